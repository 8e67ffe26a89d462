"""Faults with real processes: a worker SIGKILLed mid judge chunk and mid routing, the broker
(a private redis-server) restarted mid run, the web server (gunicorn) SIGKILLed during a burst of
submits. After one sweeper interval nothing is stuck, no accepted label is lost, nothing is
stored twice. PostgreSQL is restarted as a private cluster of the test's own (the shared server
on 5432 is never stopped)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta

import httpx
import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from dashboard.housekeeping import stale_interval, stalled_work_sweep
from hybridqc.celery import app, queues_use
from hybridqc.flows.tasks import batch_pipeline_run
from reviewers.models import HumanLabel, ReviewTask
from routing.batches.models import Batch
from routing.decisions.models import RoutingDecision
from routing.judging.judge_runs import judge_run_start
from routing.judging.models import JudgeRun, Judgment
from routing.judging.services import LIVE_BACKEND, verdict_requests
from tests import factories
from tests.conftest import wait_until
from tests.factories import make_tasks
from tests.support import processes
from tests.support.fake_server import running_fake
from tests.support.figures import figures_write

pytestmark = [pytest.mark.worker]
FAULTS: list[dict[str, object]] = []


@pytest.fixture
def spawned(transactional_db, settings):
    """A fresh queue for this test's workers; every process started is stopped at the end."""
    queue = f"test-fault-{uuid.uuid4().hex[:8]}"
    queues_use(app, queue)
    procs: list[subprocess.Popen[bytes]] = []

    def keep(proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
        procs.append(proc)
        return proc

    yield queue, keep
    for proc in procs:
        processes.stop(proc)
    queues_use(app, settings.CELERY_QUEUE_PREFIX)


def _sweep_after_one_interval() -> dict[str, int]:
    return stalled_work_sweep(now=timezone.now() + stale_interval() + timedelta(seconds=1))


def _stuck(batch: Batch) -> int:
    return batch.examples.filter(decision__isnull=True).count()


def _judgment_duplicates(config) -> int:
    rows = Judgment.objects.filter(judge=config.key).values("example_id", "variant", "order", "sample")
    return sum(n - 1 for n in Counter(tuple(r.values()) for r in rows).values())


def _task_duplicates(batch: Batch) -> int:
    per = ReviewTask.objects.filter(example__batch=batch).values("example_id", "kind").annotate(n=Count("id"))
    return sum(r["n"] - 1 for r in per if r["n"] > 1)


def test_fault_worker_sigkill_mid_judge_chunk(spawned):
    queue, keep = spawned
    batch = factories.batch("f-judge", items=[factories.pairwise_item(i) for i in range(30)]).batch
    with running_fake(latency_ms=100) as fake:
        config = factories.judge_config(fake.url, max_concurrency=2, chunk_size=100)
        first = keep(processes.worker(queue))
        run = judge_run_start(batch=batch, config=config)
        wait_until(lambda: Judgment.objects.filter(judge=config.key).count() >= 6, timeout=60, what="verdicts")
        processes.kill(first)
        at_kill = Judgment.objects.filter(judge=config.key).count()
        keep(processes.worker(queue))
        assert _sweep_after_one_interval()["runs_requeued"] == 1
        wait_until(lambda: Batch.objects.get(pk=batch.pk).status == Batch.Status.READY, timeout=120, what="routing")
    expected = {(r.example_id, r.order, r.sample) for r in verdict_requests(config, batch.examples.all())}
    assert at_kill < 60 and JudgeRun.objects.get(pk=run.pk).status == "done"
    assert set(Judgment.objects.filter(judge=config.key).values_list("example_id", "order", "sample")) == expected
    FAULTS.append({"fault": "worker SIGKILL mid judge chunk", "labels_lost": 0, "examples_stuck": _stuck(batch),
                   "duplicates": _judgment_duplicates(config) + _task_duplicates(batch)})


def test_fault_worker_sigkill_mid_routing(spawned):
    queue, keep = spawned
    batch = factories.batch("f-route", items=[factories.pairwise_item(i) for i in range(1500)]).batch
    first = keep(processes.worker(queue))
    batch_pipeline_run.delay(batch.pk)
    wait_until(lambda: Batch.objects.get(pk=batch.pk).status == Batch.Status.ROUTING, timeout=60, interval=0.02,
               what="routing to start")
    processes.kill(first)
    decided_at_kill = RoutingDecision.objects.filter(example__batch=batch).count()
    keep(processes.worker(queue))
    assert _sweep_after_one_interval()["batches_requeued"] == 1
    wait_until(lambda: Batch.objects.get(pk=batch.pk).status == Batch.Status.READY, timeout=180, what="routing")
    assert decided_at_kill == 0  # killed before the routing committed
    assert RoutingDecision.objects.filter(example__batch=batch).count() == 1500
    FAULTS.append({"fault": "worker SIGKILL mid routing", "labels_lost": 0, "examples_stuck": _stuck(batch),
                   "duplicates": _task_duplicates(batch)})


def _manage_sweep(broker: str, queue: str) -> str:
    env = processes.project_env(CELERY_BROKER_URL=broker, CELERY_QUEUE_PREFIX=queue, SWEEP_STALE_SECONDS="1")
    proc = subprocess.run([sys.executable, "manage.py", "sweep"], cwd=processes.ROOT, capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_fault_broker_restarted_mid_run(spawned):
    """A private redis-server (no persistence) killed and restarted while chunks wait in it."""
    queue, keep = spawned
    port = processes.free_port()
    broker = f"redis://127.0.0.1:{port}/0"
    redis = keep(processes.redis_server(port))
    batch = factories.batch("f-redis", items=[factories.pairwise_item(i) for i in range(30)]).batch
    with running_fake(latency_ms=100) as fake:
        config = factories.judge_config(fake.url, max_concurrency=2, chunk_size=5)
        run = JudgeRun.objects.create(batch=batch, judge_config=config, backend=LIVE_BACKEND, total=60)
        JudgeRun.objects.filter(pk=run.pk).update(progressed_at=timezone.now() - timedelta(hours=1))
        Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.JUDGING)
        keep(processes.worker(queue, CELERY_BROKER_URL=broker))
        assert "runs requeued: 1" in _manage_sweep(broker, queue)
        wait_until(lambda: Judgment.objects.filter(judge=config.key).count() >= 10, timeout=60, what="verdicts")
        processes.kill(redis)
        at_restart = Judgment.objects.filter(judge=config.key).count()
        keep(processes.redis_server(port))
        time.sleep(2)  # the worker finishes the chunk it held and reconnects; the queued chunks are gone
        assert "runs requeued: 1" in _manage_sweep(broker, queue)
        wait_until(lambda: Batch.objects.get(pk=batch.pk).status == Batch.Status.READY, timeout=180, what="routing")
    assert at_restart < 60
    assert Judgment.objects.filter(judge=config.key).count() == 60
    duplicates = _judgment_duplicates(config) + _task_duplicates(batch)
    FAULTS.append({"fault": "broker (redis-server) restarted mid run", "labels_lost": 0,
                   "examples_stuck": _stuck(batch), "duplicates": duplicates})


ITEM = re.compile(r'id="review-item"[^>]*data-task-id="([\w-]*)"')


class Labeler(threading.Thread):
    """One reviewer's browser-less loop over real HTTP: claim, submit, retry through an outage."""

    def __init__(self, base: str, username: str, budget: int) -> None:
        super().__init__(daemon=True)
        self.base, self.username, self.budget = base, username, budget
        self.accepted: list[str] = []
        self.retries = 0

    def _post(self, http: httpx.Client, url: str, data: dict[str, str] | None) -> httpx.Response:
        """POST ``data`` (GET when None) until the server answers below 500: it may be down, booting
        its workers on a loaded machine, or up without its database; a person would press again."""
        for _ in range(200):
            try:
                token = http.cookies.get("csrftoken") or ""
                resp = (http.get(url) if data is None else
                        http.post(url, data={**data, "csrfmiddlewaretoken": token}, headers={"HX-Request": "true"}))
            except httpx.TransportError:
                resp = None
            if resp is not None and resp.status_code < 500:
                return resp
            self.retries += 1
            time.sleep(0.1)
        raise TimeoutError(f"{url} did not answer")

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=20) as http:
            self._post(http, "/accounts/login/", None)
            self.retries = 0  # only retries after the login count as the fault felt
            self._post(http, "/accounts/login/", {"username": self.username, "password": factories.PASSWORD})
            item = ITEM.search(self._post(http, "/review/next/", {}).text)
            while item and item.group(1) and len(self.accepted) < self.budget:
                task = item.group(1)
                resp = self._post(http, f"/review/task/{task}/submit/", {"task": task, "choice": "1"})
                if resp.status_code == 200 and "reviewSaved" in resp.headers.get("HX-Trigger", ""):
                    self.accepted.append(task)
                item = ITEM.search(resp.text)


def test_fault_web_server_sigkill_during_200_submits(spawned, settings):
    queue, keep = spawned
    port = processes.free_port()
    make_tasks(200, name="f-burst")
    for i in range(4):
        factories.reviewer(f"burst{i}", prefixes=["test"], capacity_per_day=1000)
    web = keep(processes.gunicorn(port, REVIEW_SECOND_SHARE="0", REVIEW_GOLD_SHARE="0"))
    labelers = [Labeler(f"http://127.0.0.1:{port}", f"burst{i}", 200) for i in range(4)]
    for t in labelers:
        t.start()
    wait_until(lambda: sum(len(t.accepted) for t in labelers) >= 60, timeout=120, interval=0.01, what="submits")
    processes.kill(web)
    killed_at = sum(len(t.accepted) for t in labelers)
    time.sleep(1)
    keep(processes.gunicorn(port, REVIEW_SECOND_SHARE="0", REVIEW_GOLD_SHARE="0"))
    for t in labelers:
        t.join(300)
    accepted = [task for t in labelers for task in t.accepted]
    stored = set(HumanLabel.objects.filter(source="review").values_list("task__public_id", flat=True))
    per_task = HumanLabel.objects.filter(source="review").values("task_id").annotate(n=Count("id"))
    assert 60 <= killed_at < 200
    assert sum(t.retries for t in labelers) > 0  # the outage was felt
    # A label committed just before the kill is answered "already yours" on the retry, or its
    # reviewer moved on: every task ends done either way, none stays leased.
    assert ReviewTask.objects.filter(example__batch__name="f-burst", status="done").count() == 200
    FAULTS.append({"fault": "web server SIGKILL during 200 submits", "submits_accepted": len(accepted),
                   "labels_stored": len(stored),
                   "labels_lost": len(set(accepted) - stored), "examples_stuck": 0,
                   "duplicates": sum(r["n"] - 1 for r in per_task) + (len(accepted) - len(set(accepted)))})


def test_fault_broker_down_at_upload(spawned):
    """The web server's broker (a private redis-server) is down when a lead uploads: the page says
    so (no 500), the batch waits, and the sweeper routes it once the broker is back."""
    queue, keep = spawned
    redis_port, web_port = processes.free_port(), processes.free_port()
    broker = f"redis://127.0.0.1:{redis_port}/0"
    lead = factories.lead("f-lead")
    web = keep(processes.gunicorn(web_port, CELERY_BROKER_URL=broker, CELERY_QUEUE_PREFIX=queue))
    body = "\n".join(factories.jsonl([factories.pairwise_item(i) for i in range(5)])).encode()
    with httpx.Client(base_url=f"http://127.0.0.1:{web_port}", timeout=60) as http:
        http.get("/accounts/login/")
        http.post("/accounts/login/", data={"username": lead.username, "password": factories.PASSWORD,
                                            "csrfmiddlewaretoken": http.cookies["csrftoken"]})
        response = http.post("/control/upload/", data={"name": "f-upload", "confidence_threshold": "0.8",
                                                       "audit_rate": "0.05", "routing_mode": "threshold"},
                             files={"file": ("f.jsonl", body)},
                             headers={"HX-Request": "true", "X-CSRFToken": http.cookies["csrftoken"]})
        page = http.get(response.headers["HX-Redirect"]).text
    assert response.status_code == 200
    assert "the task queue is unreachable, so the work has not started" in page
    batch = Batch.objects.get(name="f-upload")
    assert batch.status == Batch.Status.IMPORTED
    keep(processes.redis_server(redis_port))
    keep(processes.worker(queue, CELERY_BROKER_URL=broker))
    Batch.objects.filter(pk=batch.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert "batches requeued: 1" in _manage_sweep(broker, queue)
    wait_until(lambda: Batch.objects.get(pk=batch.pk).status == Batch.Status.READY, timeout=120, what="routing")
    processes.stop(web)
    FAULTS.append({"fault": "broker down at upload", "labels_lost": 0, "examples_stuck": _stuck(batch),
                   "duplicates": _task_duplicates(batch)})


def _restart(cluster: processes.PostgresCluster) -> None:
    cluster.stop_immediately()
    time.sleep(3)  # every process meets the outage: chunks writing verdicts, submits, polls
    cluster.start()
    connection.close()  # this process's connection died with the server


def test_fault_postgres_restarted_mid_batch(private_postgres, spawned):
    """PostgreSQL stopped (-m immediate) while a worker judges a batch and reviewers submit over
    HTTP, then started again: chunks retry, the batch routes, submits go through on retry."""
    queue, keep = spawned
    web_port = processes.free_port()
    make_tasks(120, name="f-pg-review")
    for i in range(2):
        factories.reviewer(f"pg{i}", prefixes=["test"], capacity_per_day=1000)
    batch = factories.batch("f-pg", items=[factories.pairwise_item(i, domain="pg/judged") for i in range(30)]).batch
    with running_fake(latency_ms=400) as fake:  # about 25 s of judging: the restart lands inside it
        config = factories.judge_config(fake.url, max_concurrency=1, chunk_size=5)
        keep(processes.worker(queue))
        keep(processes.gunicorn(web_port, REVIEW_SECOND_SHARE="0", REVIEW_GOLD_SHARE="0"))
        run = judge_run_start(batch=batch, config=config)
        wait_until(lambda: Judgment.objects.filter(judge=config.key).count() >= 6, timeout=90, what="verdicts")
        labelers = [Labeler(f"http://127.0.0.1:{web_port}", f"pg{i}", 120) for i in range(2)]
        for t in labelers:
            t.start()
        wait_until(lambda: sum(len(t.accepted) for t in labelers) >= 8, timeout=60, interval=0.01, what="submits")
        verdicts_at_stop = Judgment.objects.filter(judge=config.key).count()
        submits_at_stop = sum(len(t.accepted) for t in labelers)
        _restart(private_postgres)
        wait_until(lambda: Batch.objects.get(pk=batch.pk).status == Batch.Status.READY, timeout=240, what="routing")
        for t in labelers:
            t.join(240)
    swept = _sweep_after_one_interval()
    accepted = [task for t in labelers for task in t.accepted]
    stored = set(HumanLabel.objects.filter(source="review").values_list("task__public_id", flat=True))
    per_task = HumanLabel.objects.filter(source="review").values("task_id").annotate(n=Count("id"))
    expected = {(r.example_id, r.order, r.sample) for r in verdict_requests(config, batch.examples.all())}
    worker_log = (processes.ROOT / "var" / f"worker-{queue}.log").read_text()
    assert verdicts_at_stop < 60 and submits_at_stop < 120
    assert JudgeRun.objects.get(pk=run.pk).status == "done"  # retried, not failed
    assert set(Judgment.objects.filter(judge=config.key).values_list("example_id", "order", "sample")) == expected
    assert sum(t.retries for t in labelers) > 0  # the outage was felt
    # Each labels until the queue is empty (a budget would leave its last claimed item leased).
    statuses = Counter(ReviewTask.objects.filter(example__batch__name="f-pg-review").values_list("status", flat=True))
    assert statuses == {"done": 120}
    chunk_retries = len(re.findall(r"judge_chunk\[[\w-]+\] retry: Retry in \d+s: OperationalError", worker_log))
    assert chunk_retries >= 1 and swept["runs_requeued"] == 0  # the task retried: nothing left for the sweeper
    FAULTS.append({"fault": "PostgreSQL restarted (pg_ctl stop -m immediate) mid batch",
                   "verdicts_at_stop": verdicts_at_stop, "submits_at_stop": submits_at_stop,
                   "chunk_retries": chunk_retries, "submits_accepted": len(accepted),
                   "submit_retries": sum(t.retries for t in labelers), "labels_lost": len(set(accepted) - stored),
                   "examples_stuck": _stuck(batch),
                   "duplicates": _judgment_duplicates(config) + _task_duplicates(batch)
                   + sum(r["n"] - 1 for r in per_task) + (len(accepted) - len(set(accepted)))})


def test_fault_figures_are_written(transactional_db):
    """Last: the figures of the faults above, as run in this session."""
    if not FAULTS:
        pytest.skip("run with the fault tests above (the whole file)")
    figures = {"faults_run": len(FAULTS), "faults_labels_lost": sum(int(f["labels_lost"]) for f in FAULTS),
               "faults_examples_stuck": sum(int(f["examples_stuck"]) for f in FAULTS),
               "faults_duplicates": sum(int(f["duplicates"]) for f in FAULTS), "faults": FAULTS}
    figures_write("faults", figures)
    assert (figures["faults_labels_lost"], figures["faults_examples_stuck"], figures["faults_duplicates"]) == (0, 0, 0)
