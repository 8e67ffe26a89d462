"""Live-judge throughput: one Celery worker process (solo pool) against the fake
OpenAI-compatible server at 200 ms latency, concurrency 64. The bound is 64 / 0.2 s = 320
verdicts/s. The naive baseline (one HTTP call per task) runs on the same worker, same run.
The chunked run is one chunk of 1500 examples x 2 orders (steady state, no chunk boundaries);
``judge_fake_server_req_per_s`` is the fake server alone with a minimal client (its own ceiling).

Two workers: a second worker process joins and both judge one batch of 1500 examples in two
chunks at one shared limit of 64 requests in flight (the same bound, 320 verdicts/s; best of two
batches). The fake server counts the requests that arrived while 64 were already in flight, over
both batches: ``judge_limit_violations`` (0 when the limit held across the workers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
LATENCY_MS = 200
CONCURRENCY = 64
BOUND = CONCURRENCY / (LATENCY_MS / 1000)
N_EXAMPLES = 1500  # x 2 orders = 3000 verdicts
N_NAIVE_EXAMPLES = 50  # x 2 orders = 100 verdicts


def _items(prefix: str, n: int) -> list[str]:
    return [json.dumps({"id": f"{prefix}-{i}", "task": "pairwise", "domain": "bench/judge",
                        "prompt": f"Bench question {prefix} {i}?", "responses": [f"A {i}", f"B {i}"]})
            for i in range(n)]


def _worker(prefix: str, name: str, log: Path) -> subprocess.Popen[bytes]:
    """A solo worker on every queue of ``prefix`` (judge chunks, and the routing that follows)."""
    from hybridqc.celery import app
    from hybridqc.queues import queue_names

    db = connection.settings_dict
    env = {**os.environ, "CELERY_QUEUE_PREFIX": prefix,
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "hybridqc", "worker", "-Q", ",".join(queue_names(prefix)), "-P",
         "solo", "-l", "warning", "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{name}@%h"],
        cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not app.control.ping(destination=[f"{name}@{os.uname().nodename}"], timeout=1.0):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"bench worker did not start; see {log}")
    return proc


def _wait(run_id: int, timeout: float = 300) -> float:
    from routing.judging.models import JudgeRun

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = JudgeRun.objects.get(pk=run_id)
        if run.done + run.failed >= run.total:
            return time.monotonic()
        time.sleep(0.05)
    raise RuntimeError(f"judge run {run_id} did not finish in {timeout}s")


def _batch_ready(batch_id: int, timeout: float = 120) -> None:
    from routing.batches.models import Batch

    deadline = time.monotonic() + timeout
    while Batch.objects.get(pk=batch_id).status != Batch.Status.READY and time.monotonic() < deadline:
        time.sleep(0.1)


def _chunked(url: str, tag: str, chunk_size: int = N_EXAMPLES) -> tuple[float, int]:
    from hybridqc.flows.imports import batch_import
    from routing.judging.judge_runs import judge_run_start
    from routing.judging.services import chunk_examples, judge_config_create

    batch = batch_import(batch_name=f"bench-judge-{tag}", lines=_items(tag, N_EXAMPLES)).batch
    # A 15 s timeout (75 x the latency): a chunk of 1500 examples fits half its 1800 s soft limit.
    config = judge_config_create(name=f"bench-{tag}", base_url=url, model="fake", max_concurrency=CONCURRENCY,
                                 timeout_s=15, chunk_size=chunk_size)
    assert chunk_examples(config) == chunk_size, "the bench's chunk would be cut to fit its time limit"
    started = time.monotonic()
    run = judge_run_start(batch=batch, config=config)
    elapsed = _wait(run.pk) - started
    _batch_ready(batch.pk)
    return elapsed, run.total


def _naive(url: str, tag: str) -> tuple[float, int]:
    from hybridqc.flows.imports import batch_import
    from routing.judging.models import JudgeRun
    from routing.judging.services import judge_config_create, judge_run_total, verdict_requests
    from routing.judging.tasks import judge_verdict

    batch = batch_import(batch_name=f"bench-naive-{tag}", lines=_items(f"n{tag}", N_NAIVE_EXAMPLES)).batch
    config = judge_config_create(name=f"bench-naive-{tag}", base_url=url, model="fake",
                                 max_concurrency=CONCURRENCY, timeout_s=15)
    run = JudgeRun.objects.create(batch=batch, judge_config=config, backend="live",
                                  total=judge_run_total(config, batch))
    started = time.monotonic()
    for r in verdict_requests(config, batch.examples.all()):
        judge_verdict.delay(run.pk, r.example_id, r.order, r.sample)
    return _wait(run.pk) - started, run.total


async def _raw_client(url: str, n: int) -> float:
    """The fake server alone: 64 keep-alive connections of a minimal client, n requests."""
    import asyncio
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    body = json.dumps({"model": "fake", "messages": [{"role": "user", "content": "Bench question?"}]}).encode()
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()

    async def connection(count: int) -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        for _ in range(count):
            writer.write(head + body)
            raw = await reader.readuntil(b"\r\n\r\n")
            length = int(raw.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
        writer.close()

    started = time.monotonic()
    await asyncio.gather(*(connection(n // CONCURRENCY) for _ in range(CONCURRENCY)))
    return (n // CONCURRENCY) * CONCURRENCY / (time.monotonic() - started)


def run() -> dict[str, float]:
    from hybridqc.celery import app, queues_use
    from tests.support.fake_server import fake_judge_process, reset, stats

    tag = uuid.uuid4().hex[:8]
    prefix = f"bench-judge-{tag}"
    queues_use(app, prefix)
    (ROOT / "var").mkdir(exist_ok=True)
    with fake_judge_process("--latency-ms", str(LATENCY_MS), "--concurrency-limit", str(CONCURRENCY),
                            log=ROOT / "var/bench-fake-judge.log") as url:
        import asyncio

        server_rate = asyncio.run(_raw_client(url, 3200))
        workers = [_worker(prefix, f"{prefix}-1", ROOT / f"var/bench-worker-{tag}.log")]
        try:
            # Best of two 3000-verdict runs: the machine is shared, and the better run is the one
            # less disturbed by other processes (as timeit takes the minimum).
            chunk_s, chunk_n = min(_chunked(url, f"{tag}{i}") for i in range(2))
            naive_s, naive_n = _naive(url, tag)
            workers.append(_worker(prefix, f"{prefix}-2", ROOT / f"var/bench-worker-{tag}-2.log"))
            reset(url)
            # Best of two here too; the violations count over both runs.
            two_s, two_n = min(_chunked(url, f"{tag}two{i}", chunk_size=N_EXAMPLES // 2) for i in range(2))
            seen = stats(url)
        finally:
            for worker in workers:
                worker.terminate()
                worker.wait(30)
    rate, naive_rate, two_rate = chunk_n / chunk_s, naive_n / naive_s, two_n / two_s
    return {
        "judge_verdicts_per_s": round(rate, 1),
        "judge_fraction_of_bound": round(rate / BOUND, 3),
        "judge_naive_verdicts_per_s": round(naive_rate, 2),
        "judge_speedup_vs_naive": round(rate / naive_rate, 1),
        "judge_fake_server_req_per_s": round(server_rate, 1),
        "judge_two_workers_verdicts_per_s": round(two_rate, 1),
        "judge_two_workers_fraction_of_bound": round(two_rate / BOUND, 3),
        "judge_two_workers_max_in_flight": seen["max_in_flight"],
        "judge_limit_violations": seen["over_limit"],
    }
