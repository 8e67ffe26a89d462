"""Run many verdict requests concurrently and hand results back in batches.

The HTTP work runs on an asyncio loop in a helper thread; the caller's (sync, Django) thread gets
the verdicts in batches and writes them, so the ORM never runs inside the event loop and the
event loop never waits for the database.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence

from routing.judging.base import JudgeBackend, Verdict, VerdictRequest


async def judge_many(
    factory: Callable[[], JudgeBackend],
    requests: Sequence[VerdictRequest],
    concurrency: int,
    deliver: Callable[[Verdict], None],
    stop: threading.Event | None = None,
) -> None:
    """Judge every request with at most ``concurrency`` calls in flight (until ``stop`` is set)."""
    backend = factory()
    pending = iter(requests)

    async def worker() -> None:
        for request in pending:  # a shared iterator: each request is taken by one worker
            if stop is not None and stop.is_set():
                return
            deliver(await backend.judge(request))

    try:
        await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(requests))))))
    finally:
        await backend.aclose()


class _Handoff:
    """Verdicts the event-loop thread produced, handed to the caller's thread in batches."""

    def __init__(self, flush_rows: int) -> None:
        self.done: deque[Verdict] = deque()
        self.ready, self.finished, self.stop = threading.Event(), threading.Event(), threading.Event()
        self.failure: list[BaseException] = []
        self.flush_rows = flush_rows

    def deliver(self, verdict: Verdict) -> None:
        self.done.append(verdict)
        if len(self.done) >= self.flush_rows:
            self.ready.set()

    def run(self, factory: Callable[[], JudgeBackend], requests: Sequence[VerdictRequest], concurrency: int) -> None:
        try:
            asyncio.run(judge_many(factory, requests, concurrency, self.deliver, self.stop))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            self.failure.append(exc)
        finally:
            self.finished.set()
            self.ready.set()

    def batches(self, flush_s: float) -> Iterator[list[Verdict]]:
        while True:
            self.ready.wait(flush_s)
            self.ready.clear()
            over = self.finished.is_set()  # read before draining: nothing is added after it is set
            batch = [self.done.popleft() for _ in range(len(self.done))]
            if batch:
                yield batch
            if over and not self.done:
                return


def verdict_batches(
    factory: Callable[[], JudgeBackend],
    requests: Sequence[VerdictRequest],
    *,
    concurrency: int,
    flush_rows: int = 500,
    flush_s: float = 1.0,
) -> Iterator[list[Verdict]]:
    """Yield verdicts in batches of about ``flush_rows``, at least every ``flush_s`` seconds.

    Verdicts pile up in a deque and the caller's thread wakes only per batch, not per verdict:
    at hundreds of verdicts a second, per-verdict thread hand-offs cost the event loop real time.
    """
    handoff = _Handoff(flush_rows)
    thread = threading.Thread(target=handoff.run, args=(factory, requests, concurrency), name="judge-http",
                              daemon=True)
    thread.start()
    try:
        yield from handoff.batches(flush_s)
    finally:
        handoff.stop.set()  # the caller failed or stopped early: make no further calls
        thread.join()
    if handoff.failure:
        raise handoff.failure[0]


def chunk_examples_max(*, concurrency: int, timeout_s: float, verdicts_per_example: int, soft_limit_s: int) -> int:
    """The most examples a chunk may hold to finish within half its soft time limit even if every
    request's first try runs into its timeout (``concurrency`` at a time); the other half is left
    for retries and for writing the verdicts."""
    per_example_s = verdicts_per_example * max(timeout_s, 0.001) / max(1, concurrency)
    return max(1, int(soft_limit_s * 0.5 / per_example_s))
