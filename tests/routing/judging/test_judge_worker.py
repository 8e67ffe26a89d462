"""Live judging with real Celery workers: the panel end to end, and a worker killed with
SIGKILL mid-chunk whose chunk is redelivered to a new worker (each verdict stored exactly once)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from hybridqc import queues
from hybridqc.celery import app, queues_use
from hybridqc.queues import queue_names
from routing.batches.models import Batch
from routing.decisions.models import RoutingDecision
from routing.judging.judge_runs import judge_run_start
from routing.judging.models import JudgeRun, Judgment
from routing.judging.services import verdict_requests
from tests import factories
from tests.conftest import wait_until
from tests.support.browser import login
from tests.support.confirm import post_confirmed
from tests.support.fake_server import running_fake, stats

pytestmark = [pytest.mark.worker]
ROOT = Path(__file__).resolve().parent.parent.parent.parent
# A 3 s lease, so the killed worker's chunk is redelivered soon; the time limits must stay below it
# to pass the settings check (the solo pool does not enforce them).
SHORT_VISIBILITY = {"CELERY_VISIBILITY_TIMEOUT": "3", "CELERY_TASK_SOFT_TIME_LIMIT": "1", "CELERY_TASK_TIME_LIMIT": "2",
                    "JUDGE_CHUNK_SOFT_TIME_LIMIT": "1", "JUDGE_CHUNK_TIME_LIMIT": "2",
                    "EXPORT_JOB_SOFT_TIME_LIMIT": "1", "EXPORT_JOB_TIME_LIMIT": "2"}


def test_judge_panel_run_with_real_worker(celery_worker, lead_user):
    batch = factories.batch("w1", items=[factories.pairwise_item(i) for i in range(12)]).batch
    with running_fake(latency_ms=20) as fake:
        config = factories.judge_config(fake.url, chunk_size=5, max_concurrency=8)
        client = Client()
        client.force_login(lead_user)
        url = reverse("routing:judge_panel", args=[batch.pk])
        start = reverse("dashboard:judge-start", args=[batch.pk])
        assert post_confirmed(client, start, {"judge_config": config.pk}, HTTP_HX_REQUEST="true").status_code == 200
        wait_until(lambda: 'data-status="done"' in client.get(url, HTTP_HX_REQUEST="true").content.decode(),
                   timeout=60, what="the panel to show the run done")
        wait_until(lambda: Batch.objects.get(pk=batch.pk).status == Batch.Status.READY, timeout=60,
                   what="re-routing")
        assert stats(fake.url)["requests"] == 24
    run = JudgeRun.objects.get(batch=batch)
    assert (run.done, run.failed, run.total) == (24, 0, 24)
    assert Judgment.objects.filter(judge=config.key).count() == 24
    assert RoutingDecision.objects.filter(example__batch=batch).count() == 12
    assert Batch.objects.get(pk=batch.pk).primary_judge == "fake-judge@v1"


def _worker(queue: str, extra_env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A solo-pool worker in its own process group (so SIGKILL takes all of it)."""
    db = connection.settings_dict
    env = {**os.environ, **extra_env, "CELERY_QUEUE_PREFIX": queue, "SECRET_KEY": "test-only-secret",
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"}
    log = open(ROOT / f"var/worker-{queue}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "hybridqc", "worker", "-Q", ",".join(queue_names(queue)), "-P", "solo",
         "-l", "info",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{queue}-{uuid.uuid4().hex[:4]}@%h"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    log.close()
    return proc


@pytest.fixture
def worker_factory(transactional_db, settings) -> Iterator[object]:
    if not settings.CELERY_BROKER_URL:
        pytest.fail("the worker tests need CELERY_BROKER_URL")
    queue = f"test-judge-{uuid.uuid4().hex[:8]}"
    queues_use(app, queue)
    procs: list[subprocess.Popen[bytes]] = []

    def start(**extra_env: str) -> subprocess.Popen[bytes]:
        procs.append(_worker(queue, extra_env))
        return procs[-1]

    yield start
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)
    queues_use(app, settings.CELERY_QUEUE_PREFIX)


def test_judge_sigkill_mid_chunk_redelivers_and_judges_each_once(worker_factory):
    batch = factories.batch("w2", items=[factories.pairwise_item(i) for i in range(30)]).batch
    with running_fake(latency_ms=100) as fake:
        config = factories.judge_config(fake.url, max_concurrency=2, chunk_size=100)
        first = worker_factory(**SHORT_VISIBILITY)
        run = judge_run_start(batch=batch, config=config)
        stored = wait_until(lambda: Judgment.objects.filter(judge=config.key).count() >= 6, timeout=60,
                            what="the first verdicts")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        at_kill = Judgment.objects.filter(judge=config.key).count()
        assert stored and 6 <= at_kill < 60  # killed mid-chunk
        worker_factory(**SHORT_VISIBILITY)
        wait_until(lambda: JudgeRun.objects.get(pk=run.pk).status == JudgeRun.Status.DONE, timeout=90,
                   what="the redelivered chunk to finish the run")
        requests = stats(fake.url)["requests"]
    keys = list(Judgment.objects.filter(judge=config.key).values_list("example_id", "order", "sample"))
    expected = {(r.example_id, r.order, r.sample) for r in verdict_requests(config, batch.examples.all())}
    assert len(keys) == 60 and set(keys) == expected
    # Only calls in flight or not yet flushed at the kill were made twice.
    assert 60 <= requests <= 60 + 15
    run.refresh_from_db()
    assert (run.done, run.failed) == (60, 0)


def _workers_ready(n: int) -> None:
    """Wait for n workers of this test's queues (their names start with the queue prefix)."""
    prefix = str(app.conf.task_default_queue).removesuffix(f"-{queues.ROUTING}")
    wait_until(lambda: len([r for r in app.control.ping(timeout=1.0) if next(iter(r)).startswith(prefix)]) >= n,
               timeout=60, what=f"{n} workers to answer a ping")


def test_judge_two_worker_processes_hold_one_shared_limit(worker_factory):
    """Two workers, each running its chunk with 4 requests at a time, share one limit of 4: the
    fake server never sees a 5th in flight (each alone would put 4 there, 8 together)."""
    batch = factories.batch("w5", items=[factories.pairwise_item(i) for i in range(40)]).batch
    with running_fake(latency_ms=50, concurrency_limit=4) as fake:
        config = factories.judge_config(fake.url, max_concurrency=4, chunk_size=20)
        worker_factory()
        worker_factory()
        _workers_ready(2)
        run = judge_run_start(batch=batch, config=config)
        wait_until(lambda: JudgeRun.objects.get(pk=run.pk).status == JudgeRun.Status.DONE, timeout=90,
                   what="both chunks to finish the run")
        seen = stats(fake.url)
    run.refresh_from_db()
    assert (run.done, run.failed, seen["requests"]) == (80, 0, 80)
    assert (seen["max_in_flight"], seen["over_limit"]) == (4, 0)


@pytest.mark.browser
def test_judge_panel_in_browser_starts_run_and_polls_to_done(live_server, celery_worker, lead_user, page):
    items = [factories.pairwise_item(i) for i in range(20)] + [factories.pairwise_item(20, prompt="{{fault:503}}")]
    batch = factories.batch("w3", items=items).batch
    with running_fake(latency_ms=150) as fake:
        factories.judge_config(fake.url, max_concurrency=4)
        login(page, live_server.url, lead_user.username)
        page.goto(f"{live_server.url}/routing/batch/{batch.pk}/judge/")
        page.click("text=Start judging")  # the start shows what it replaces and asks to confirm
        page.click('[data-confirm-step="batch-rejudge"] [data-confirm-accept]')
        page.wait_for_selector('[data-status="running"], [data-status="queued"]')
        page.wait_for_selector('[data-status="done"]', timeout=60_000)
        page.screenshot(path=str(ROOT / "var/judge-panel.png"))
        text = page.inner_text(".judge-panel")
    assert "40 judged · 2 failed · of 42 verdicts (100%)" in text
    assert "judge failed: server error 503 after 3 tries" in text
    assert page.url == f"{live_server.url}/routing/batch/{batch.pk}/judge/"  # htmx swaps, no navigation


@pytest.mark.browser
def test_judge_panel_in_browser_shows_conflict_message(live_server, transactional_db, lead_user, page):
    batch = factories.batch("w4").batch
    config = factories.judge_config("http://127.0.0.1:9/v1")
    JudgeRun.objects.create(batch=batch, judge_config=config, backend="live", total=10)  # a run in progress
    login(page, live_server.url, lead_user.username)
    page.goto(f"{live_server.url}/routing/batch/{batch.pk}/judge/")
    page.route("**/judge/", lambda route: route.continue_() if route.request.method == "POST" else route.fulfill(
        status=204))  # stop the polling so the 409 panel stays in view
    page.eval_on_selector(".judge-panel button[type=submit]", "b => b.disabled = false")
    page.click(".judge-panel button[type=submit]")
    page.click('[data-confirm-step="batch-rejudge"] [data-confirm-accept]')
    page.wait_for_selector("text=batch w4 already has a judge run in progress")
    assert JudgeRun.objects.filter(batch=batch).count() == 1
