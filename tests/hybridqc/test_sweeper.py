"""Every long-lived state has an exit: the sweeper re-enqueues or fails what stopped, a pipeline
that raises fails its batch with a reason, a failed batch can be retried, and a broker that is down
at enqueue is shown to the user while the batch waits for the sweeper."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from statistics import StatisticsError

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dashboard.housekeeping import stalled_work_sweep
from hybridqc.flows.batches import batch_route_or_fail
from hybridqc.flows.tasks import batch_pipeline_run
from reviewers.models import ReviewTask
from routing.batches.models import Batch
from routing.decisions.models import RoutingDecision
from routing.judging.models import JudgeRun, Judgment
from routing.judging.services import LIVE_BACKEND
from routing.training.backtest_jobs import STALLED, backtest_pending_mark, backtest_pending_path
from routing.training.router_training import backtest_result_path
from tests import factories
from tests.conftest import wait_until
from tests.support.fake_server import running_fake

ROOT = Path(__file__).resolve().parents[2]
LATER = timedelta(hours=1)  # past any stale interval


def _lost_run(batch: Batch, config, **fields) -> JudgeRun:
    """A run whose chunk messages were never delivered (broker down, Redis restarted)."""
    old = timezone.now() - LATER
    run = JudgeRun.objects.create(batch=batch, judge_config=config, backend=LIVE_BACKEND,
                                  total=2 * batch.examples.count(), **fields)
    JudgeRun.objects.filter(pk=run.pk).update(progressed_at=old)
    Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.JUDGING, status_changed_at=old)
    return run


@pytest.mark.worker
def test_sweeper_requeues_a_run_whose_messages_were_lost(celery_worker):
    batch = factories.batch("lost-run", items=[factories.pairwise_item(i) for i in range(6)]).batch
    with running_fake(latency_ms=5) as fake:
        config = factories.judge_config(fake.url, chunk_size=4)
        run = _lost_run(batch, config)
        counts = stalled_work_sweep()
        assert (counts["runs_requeued"], counts["runs_failed"]) == (1, 0)
        wait_until(lambda: JudgeRun.objects.get(pk=run.pk).status == JudgeRun.Status.DONE, timeout=60,
                   what="the re-enqueued run to finish")
        wait_until(lambda: Batch.objects.get(pk=batch.pk).status == Batch.Status.READY, timeout=60,
                   what="the batch to be routed")
    assert Judgment.objects.filter(judge_config=config).count() == 12
    assert RoutingDecision.objects.filter(example__batch=batch).count() == 6
    assert JudgeRun.objects.get(pk=run.pk).requeues == 1


@pytest.mark.django_db
def test_sweeper_fails_a_run_after_its_requeues_are_spent(settings):
    settings.SWEEP_MAX_REQUEUES = 2
    batch = factories.batch("dead-run").batch
    config = factories.judge_config("http://127.0.0.1:9/v1")
    run = _lost_run(batch, config, requeues=2)
    counts = stalled_work_sweep()
    run.refresh_from_db()
    batch.refresh_from_db()
    assert (counts["runs_failed"], counts["runs_requeued"]) == (1, 0)
    assert (run.status, run.last_error) == ("failed", "no progress after 2 re-enqueues by the sweeper")
    assert (batch.status, batch.status_detail) == ("failed", "no progress after 2 re-enqueues by the sweeper")


@pytest.mark.django_db
def test_sweeper_leaves_a_run_that_is_making_progress_alone():
    batch = factories.batch("busy-run").batch
    config = factories.judge_config("http://127.0.0.1:9/v1")
    run = _lost_run(batch, config)
    JudgeRun.objects.filter(pk=run.pk).update(progressed_at=timezone.now())
    counts = stalled_work_sweep()
    assert (counts["runs_requeued"], counts["runs_failed"]) == (0, 0)
    assert JudgeRun.objects.get(pk=run.pk).status == "queued"


@pytest.mark.worker
def test_sweeper_requeues_a_batch_stuck_routing(celery_worker):
    batch = factories.batch("stuck-routing").batch
    Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.ROUTING, status_changed_at=timezone.now() - LATER)
    assert stalled_work_sweep()["batches_requeued"] == 1
    wait_until(lambda: Batch.objects.get(pk=batch.pk).status == Batch.Status.READY, timeout=60, what="routing")
    assert RoutingDecision.objects.filter(example__batch=batch).count() == 5


@pytest.mark.django_db
def test_sweeper_fails_a_batch_whose_routing_keeps_stopping(settings):
    settings.SWEEP_MAX_REQUEUES = 1
    batch = factories.batch("dying-routing").batch
    Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.ROUTING, requeues=1,
                                             status_changed_at=timezone.now() - LATER)
    assert stalled_work_sweep()["batches_failed"] == 1
    batch.refresh_from_db()
    assert (batch.status, batch.status_detail) == (
        "failed", "routing made no progress after 1 re-enqueues by the sweeper")


def _bad_judgment_batch(name: str) -> Batch:
    batch = factories.batch(name, items=[factories.rating_item(0)]).batch
    example = batch.examples.get()
    Judgment.objects.filter(example=example).delete()
    Judgment.objects.create(example=example, judge="j", choice=1, rating=None)
    return batch


@pytest.mark.django_db
def test_pipeline_that_raises_fails_the_batch_with_the_reason():
    batch = _bad_judgment_batch("bad-judgment")
    with pytest.raises(StatisticsError):
        batch_route_or_fail(batch=batch)
    batch.refresh_from_db()
    assert batch.status == "failed"
    assert batch.status_detail == "routing failed: StatisticsError: no median for empty data"
    assert RoutingDecision.objects.filter(example__batch=batch).count() == 0


@pytest.mark.worker
def test_pipeline_that_raises_in_a_worker_fails_the_batch_and_the_task(celery_worker, celery_queue):
    """The worker records the task as failed with the exception (not a success returning 0)."""
    batch = _bad_judgment_batch("bad-judgment-worker")
    Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.ROUTING)
    task_id = batch_pipeline_run.delay(batch.pk).id
    wait_until(lambda: Batch.objects.get(pk=batch.pk).status == "failed", timeout=60, what="batch failed")
    log_file = ROOT / "var" / f"worker-{celery_queue}.log"
    line = f"Task hybridqc.flows.tasks.batch_pipeline_run[{task_id}] raised unexpected: StatisticsError"
    wait_until(lambda: line in log_file.read_text(), timeout=30, what="the task's failure in the worker log")
    assert log_file.read_text().count(f"batch_pipeline_run[{task_id}] retry") == 0


@pytest.mark.worker
def test_batch_retry_routes_a_failed_batch_again(celery_worker, lead_user):
    batch = factories.batch("retry-me").batch
    Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.FAILED, status_detail="routing failed: X")
    client = Client()
    client.force_login(lead_user)
    page = client.get(reverse("dashboard:batch", args=[batch.pk])).content.decode()
    assert "data-retry-batch" in page and "routing failed: X" in page
    response = client.post(reverse("dashboard:retry", args=[batch.pk]))
    assert response.status_code == 302
    wait_until(lambda: Batch.objects.get(pk=batch.pk).status == Batch.Status.READY, timeout=60, what="routing")
    assert RoutingDecision.objects.filter(example__batch=batch).count() == 5


@pytest.mark.django_db
def test_batch_retry_of_a_ready_batch_is_refused(lead_user):
    batch = factories.batch("ready-one").batch
    Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.READY)
    client = Client()
    client.force_login(lead_user)
    response = client.post(reverse("dashboard:retry", args=[batch.pk]), follow=True)
    assert "batch ready-one is ready: nothing to retry" in response.content.decode()
    assert Batch.objects.get(pk=batch.pk).status == "ready"


@pytest.mark.django_db
def test_sweeper_ends_a_backtest_that_never_stored_a_result():
    batch = factories.batch("bt").batch
    backtest_pending_mark(token="abc123stale", batch=batch)
    backtest_pending_mark(token="abc123fresh", batch=batch)
    old = (timezone.now() - LATER).timestamp()
    os.utime(backtest_pending_path("abc123stale"), (old, old))
    assert stalled_work_sweep()["backtests_failed"] == 1
    assert json.loads(backtest_result_path("abc123stale").read_text()) == {"error": STALLED}
    assert not backtest_result_path("abc123fresh").exists()
    backtest_pending_path("abc123fresh").unlink()
    backtest_result_path("abc123stale").unlink()


@pytest.mark.django_db
def test_sweep_command_reports_what_it_did(capsys, settings):
    settings.SWEEP_STALE_SECONDS = 15 * 60
    task_batch = factories.batch("leases").batch
    reviewer = factories.reviewer("rv", prefixes=["test"]).reviewer
    task = ReviewTask.objects.create(example=task_batch.examples.first(), kind=ReviewTask.Kind.ROUTED,
                                     status=ReviewTask.Status.LEASED, assignee=reviewer,
                                     lease_expires_at=timezone.now() - timedelta(minutes=1))
    call_command("sweep")
    out = capsys.readouterr().out
    assert out.startswith("swept (stale after 15 min): runs requeued: 0, runs failed: 0, ")
    assert "leases expired: 1" in out
    assert ReviewTask.objects.get(pk=task.pk).status == ReviewTask.Status.OPEN


UPLOAD_WITH_BROKER_DOWN = """
import django, json, sys
django.setup()
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
client = Client()
client.force_login(User.objects.get(username="lead"))
upload = SimpleUploadedFile("b.jsonl", sys.stdin.buffer.read())
response = client.post("/control/upload/", {"name": "broker-down", "file": upload, "confidence_threshold": 0.8,
                       "audit_rate": 0.05, "routing_mode": "threshold"}, HTTP_HX_REQUEST="true")
page = client.get("/control/batch/%s/" % response.headers["HX-Redirect"].split("/")[-2])
print(json.dumps({"status": response.status_code, "page": page.content.decode()}))
"""


def _refused_broker_env() -> dict[str, str]:
    db = connection.settings_dict
    return {**os.environ, "CELERY_BROKER_URL": "redis://127.0.0.1:1/0", "SECURE_HTTPS": "0",
            "ALLOWED_HOSTS": "testserver", "DJANGO_SETTINGS_MODULE": "hybridqc.settings",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"}


@pytest.mark.worker
def test_upload_with_the_broker_down_is_shown_and_the_sweeper_picks_it_up(celery_worker, lead_user):
    """A real web request in a process whose broker refuses connections (nothing listens on port 1)."""
    proc = subprocess.run([sys.executable, "-c", UPLOAD_WITH_BROKER_DOWN], cwd=ROOT, env=_refused_broker_env(),
                          input="\n".join(factories.jsonl([factories.pairwise_item(i) for i in range(4)])).encode(),
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    answer = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    assert answer["status"] == 200
    assert "the task queue is unreachable, so the work has not started" in answer["page"]
    batch = Batch.objects.get(name="broker-down")
    assert (batch.status, batch.examples.count()) == ("imported", 4)
    assert stalled_work_sweep(now=timezone.now() + LATER)["batches_requeued"] == 1
    wait_until(lambda: Batch.objects.get(pk=batch.pk).status == Batch.Status.READY, timeout=60, what="routing")
    assert RoutingDecision.objects.filter(example__batch=batch).count() == 4
