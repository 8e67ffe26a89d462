"""The provider limits shared by every worker: concurrent requests (slot leases) and requests and
tokens per minute, in Redis and in the process. Real Redis, real HTTP to the fake judge."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
import uuid

import pytest
from django.conf import settings

from routing.judging.base import VerdictRequest
from routing.judging.guards import EndpointPolicy
from routing.judging.limit_stores import MemoryStore, RedisStore
from routing.judging.limits import EndpointLimit, endpoint_key
from routing.judging.openai_backend import JudgeSettings, OpenAIJudge
from routing.judging.runner import chunk_examples_max, verdict_batches
from routing.judging.services import chunk_examples
from tests import factories
from tests.support.fake_server import running_fake, stats


def _run(coro):
    """asyncio.run in a thread of its own: the browser tests' Playwright loop may be running in
    this one (the session-scoped browser), and asyncio.run refuses to nest."""
    out: list = []
    thread = threading.Thread(target=lambda: out.append(asyncio.run(coro)))
    thread.start()
    thread.join()
    assert out, "the scenario raised (see the thread's traceback above)"
    return out[0]


def _limit(**over: int) -> EndpointLimit:
    return EndpointLimit(key=f"test-{uuid.uuid4().hex[:8]}", **{"concurrency": 1, **over})


def _store(kind: str, limit: EndpointLimit, lease_s: float = 10.0) -> RedisStore | MemoryStore:
    if kind == "redis":
        return RedisStore(settings.JUDGE_LIMIT_STORE_URL, limit, lease_s=lease_s)
    return MemoryStore(limit, lease_s=lease_s)


def _requests(tag: str, n: int) -> list[VerdictRequest]:
    return [VerdictRequest(example_id=i, task="pairwise", prompt=f"Limit question {tag} {i}?",
                           responses=(f"A {i}", f"B {i}")) for i in range(n)]


def _runner(url: str, limit: EndpointLimit | None, tag: str, out: list[int], store_url: str) -> threading.Thread:
    """One runner (as one worker's chunk would be): 16 coroutines, its own event loop thread."""
    judge = JudgeSettings(key="limit-test@v1", base_url=url, model="fake", api_key="no-key", timeout_s=10,
                          endpoint=EndpointPolicy(allow_private=True), limit=limit, limit_store_url=store_url)

    def run() -> None:
        for batch in verdict_batches(lambda: OpenAIJudge(judge), _requests(tag, 60), concurrency=16):
            out.extend(1 for v in batch if not v.error)

    return threading.Thread(target=run)


@pytest.mark.parametrize(("shared", "store"), [(True, "redis"), (True, "memory"), (False, "redis")])
def test_judge_limit_two_concurrent_runners_hold_one_limit(shared, store):
    """Two runners of 16 coroutines each at a shared limit of 8 (in Redis, or in the process as in
    the demo): the server never sees a 9th request in flight. Without the limiter the same runners
    put 32 in flight (the test can fail)."""
    limit = EndpointLimit(key=f"two-{uuid.uuid4().hex[:8]}", concurrency=8) if shared else None
    store_url = settings.JUDGE_LIMIT_STORE_URL if store == "redis" else ""
    done: list[int] = []
    with running_fake(latency_ms=40, concurrency_limit=8) as fake:
        runners = [_runner(fake.url, limit, f"{shared}-{store}-{i}", done, store_url) for i in range(2)]
        for runner in runners:
            runner.start()
        for runner in runners:
            runner.join(60)
        seen = stats(fake.url)
    assert len(done) == 120
    if shared:
        assert (seen["max_in_flight"], seen["over_limit"]) == (8, 0)
    else:
        assert seen["max_in_flight"] == 32 and seen["over_limit"] > 0


def test_judge_limit_requests_per_minute_paces_the_runner():
    """120 a minute: a full bucket lets the first 120 requests go at once; the other 4 follow at
    2 a second, so the run takes about 2 s (against about 0.2 s unpaced)."""
    limit = EndpointLimit(key=f"rpm-{uuid.uuid4().hex[:8]}", concurrency=16, requests_per_minute=120)
    judge = JudgeSettings(key="rpm-test@v1", base_url="", model="fake", api_key="no-key", timeout_s=10,
                          endpoint=EndpointPolicy(allow_private=True), limit=limit,
                          limit_store_url=settings.JUDGE_LIMIT_STORE_URL)
    with running_fake() as fake:
        judge = dataclasses.replace(judge, base_url=fake.url)
        started = time.monotonic()
        verdicts = [v for b in verdict_batches(lambda: OpenAIJudge(judge), _requests("rpm", 124), concurrency=16)
                    for v in b]
        elapsed = time.monotonic() - started
        seen = stats(fake.url)
    assert (len(verdicts), seen["requests"]) == (124, 124)
    assert 1.5 <= elapsed <= 4.0


@pytest.mark.parametrize("kind", ["redis", "memory"])
def test_judge_limit_slot_of_dead_worker_lapses_after_lease(kind):
    store = _store(kind, _limit(concurrency=1), lease_s=0.2)

    async def scenario() -> tuple[bool, bool, bool]:
        first = await store.acquire("dead:0", "dead")
        refused = await store.acquire("live:0", "live")
        await asyncio.sleep(0.3)  # the dead worker renews nothing: its lease lapses
        later = await store.acquire("live:0", "live")
        await store.aclose()
        return first, refused, later

    assert _run(scenario()) == (True, False, True)


@pytest.mark.parametrize("kind", ["redis", "memory"])
def test_judge_limit_released_slot_goes_to_waiting_worker_first(kind):
    store = _store(kind, _limit(concurrency=1))

    async def scenario() -> list[bool]:
        steps = [await store.acquire("a:0", "a"), await store.acquire("b:0", "b")]
        await store.release(["a:0"])
        steps += [await store.acquire("a:1", "a"), await store.acquire("b:0", "b")]
        await store.aclose()
        return steps

    # a holds, b waits; the slot a gives back goes to b, not to a again
    assert _run(scenario()) == [True, False, False, True]


@pytest.mark.parametrize("kind", ["redis", "memory"])
def test_judge_limit_requests_per_minute_waits_for_refill(kind):
    store = _store(kind, _limit(requests_per_minute=60))

    async def scenario() -> tuple[list[float], float]:
        taken = [await store.take(1, 0) for _ in range(60)]
        wait = await store.take(1, 0)
        await store.aclose()
        return taken, wait

    taken, wait = _run(scenario())
    assert taken == [0.0] * 60
    # 60 a minute refill one a second: the 61st request waits about 1 s (less what refilled).
    assert 0.95 <= wait <= 1.0


@pytest.mark.parametrize("kind", ["redis", "memory"])
def test_judge_limit_tokens_per_minute_counts_the_reply_correction(kind):
    store = _store(kind, _limit(tokens_per_minute=1000))

    async def scenario() -> tuple[float, float, float]:
        first = await store.take(1, 600)
        await store.take(0, 500, force=True)  # the reply used 500 more than estimated: -100 left
        second = await store.take(1, 100)
        await store.aclose()
        return first, second, await store.take(1, 0)

    first, second, third = _run(scenario())
    assert first == 0.0
    # (100 - (-100)) tokens at 1000 a minute: 12 s
    assert 11.9 <= second <= 12.0
    # Nothing was taken by the refused request; the 100-token debt takes 6 s to pay back.
    assert 5.9 <= third <= 6.0


def test_judge_limit_endpoint_key_shared_by_versions_not_by_keys():
    base = endpoint_key(base_url="https://api.example.com/v1/", model="m", api_key_env="OPENAI_API_KEY")
    assert base == endpoint_key(base_url="https://API.example.com/v1", model="m", api_key_env="OPENAI_API_KEY")
    assert base != endpoint_key(base_url="https://api.example.com/v1", model="m", api_key_env="HYBRIDQC_JUDGE_B")
    assert base != endpoint_key(base_url="https://api.example.com/v1", model="m2", api_key_env="OPENAI_API_KEY")


def test_judge_chunk_examples_max_fits_half_the_soft_limit():
    # 2 verdicts x 15 s / 64 in flight = 0.46875 s an example; 900 s / 0.46875 = 1920
    assert chunk_examples_max(concurrency=64, timeout_s=15, verdicts_per_example=2, soft_limit_s=1800) == 1920
    assert chunk_examples_max(concurrency=1, timeout_s=600, verdicts_per_example=8, soft_limit_s=60) == 1


@pytest.mark.django_db
def test_judge_chunk_examples_cuts_the_configured_size_to_the_time_limit(settings):
    settings.JUDGE_CHUNK_SOFT_TIME_LIMIT = 1800
    big = factories.judge_config("http://127.0.0.1:9/v1", name="big", chunk_size=5000, max_concurrency=64,
                                 timeout_s=15)
    small = factories.judge_config("http://127.0.0.1:9/v1", name="small", chunk_size=500, max_concurrency=64,
                                   timeout_s=15)
    assert (chunk_examples(big), chunk_examples(small)) == (1920, 500)
