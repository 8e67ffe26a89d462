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
    done: deque[Verdict] = deque()
    ready = threading.Event()
    failure: list[BaseException] = []
    finished, stop = threading.Event(), threading.Event()

    def deliver(verdict: Verdict) -> None:
        done.append(verdict)
        if len(done) >= flush_rows:
            ready.set()

    def run() -> None:
        try:
            asyncio.run(judge_many(factory, requests, concurrency, deliver, stop))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failure.append(exc)
        finally:
            finished.set()
            ready.set()

    thread = threading.Thread(target=run, name="judge-http", daemon=True)
    thread.start()
    try:
        while True:
            ready.wait(flush_s)
            ready.clear()
            over = finished.is_set()  # read before draining: nothing is added after it is set
            batch = [done.popleft() for _ in range(len(done))]
            if batch:
                yield batch
            if over and not done:
                break
    finally:
        stop.set()  # the caller failed or stopped early: make no further calls
        thread.join()
    if failure:
        raise failure[0]


def chunk_examples_max(*, concurrency: int, timeout_s: float, verdicts_per_example: int, soft_limit_s: int) -> int:
    """The most examples a chunk may hold to finish within half its soft time limit even if every
    request's first try runs into its timeout (``concurrency`` at a time); the other half is left
    for retries and for writing the verdicts."""
    per_example_s = verdicts_per_example * max(timeout_s, 0.001) / max(1, concurrency)
    return max(1, int(soft_limit_s * 0.5 / per_example_s))
