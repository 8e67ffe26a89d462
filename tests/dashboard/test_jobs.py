"""The jobs list: one selector over the job tables (imports, judge runs, routings, retrains),
running jobs first, with progress, the failure reason and Retry where it applies."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dashboard.models import ExportJob
from hybridqc.confirm import TOKEN_FIELD
from hybridqc.flows.batches import batch_route
from routing.batches.models import Batch
from routing.decisions.models import RoutingRun
from routing.ingest.models import ImportJob
from routing.judging.models import JudgeConfig, JudgeRun
from routing.scoring.models import RouterModel
from routing.training.backtest_jobs import backtest_failure_save, backtest_pending_mark
from routing.training.selectors import jobs_recent
from tests import factories
from tests.support.confirm import confirm_token


def test_jobs_recent_lists_every_kind_running_first_with_progress_and_reason(db, lead_user):
    batch = factories.batch("jobs-b", routing_mode="threshold").batch
    batch_route(batch=batch)
    run = RoutingRun.objects.get(batch=batch)
    failed_import = ImportJob.objects.create(batch_name="jobs-x", upload="imports/x.jsonl", status="failed",
                                             error_count=3, source_name="x.jsonl")
    judging = JudgeRun.objects.create(batch=batch, status="running", total=10, done=3, failed=1)
    broken = factories.batch("jobs-broken").batch
    Batch.objects.filter(pk=broken.pk).update(status=Batch.Status.FAILED, status_detail="routing failed: boom")
    RouterModel.objects.create(version=7, blob=b"")
    rows = {(r.kind, r.pk): r for r in jobs_recent()}
    assert jobs_recent()[0].kind == "judge run"  # the only running job comes first
    assert rows[("judge run", judging.pk)].percent == 40  # (3 done + 1 failed) of 10
    assert rows[("import", failed_import.pk)].status == "failed" and rows[("import", failed_import.pk)].retry
    assert rows[("import", failed_import.pk)].reason == "3 problem(s) in the file"
    routing = rows[("routing", broken.pk)]
    assert (routing.status, routing.reason, routing.retry) == ("failed", "routing failed: boom", True)
    assert rows[("routing run", run.pk)].status == "done" and rows[("routing run", run.pk)].percent == 100
    assert rows[("routing run", run.pk)].title == "routing of jobs-b: 5 items (threshold-v1)"
    assert [r.kind for r in jobs_recent() if r.kind == "retrain"] == ["retrain"]


def test_jobs_page_polls_only_while_a_job_runs(db, client, lead_user, reviewer_user):
    batch = factories.batch("jobs-p", routing_mode="threshold").batch
    batch_route(batch=batch)  # an imported batch not yet routed counts as a routing job queued
    client.force_login(reviewer_user)
    assert client.get(reverse("dashboard:jobs")).status_code == 403
    client.force_login(lead_user)
    idle = client.get(reverse("dashboard:jobs")).content.decode()
    assert 'data-running="0"' in idle and "every 2s" not in idle
    JudgeRun.objects.create(batch=batch, status="queued")
    busy = client.get(reverse("dashboard:jobs") + "?part=table", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-running="1"' in busy and "every 2s" in busy and "<nav>" not in busy


def test_jobs_failed_judge_run_retries_through_the_rejudge_preview(db, client, lead_user):
    batch = factories.batch("jobs-j", items=[factories.pairwise_item(i) for i in range(3)],
                            routing_mode="threshold").batch
    batch_route(batch=batch)
    config = factories.judge_config("http://127.0.0.1:9/v1")
    retired = factories.judge_config("http://127.0.0.1:9/v1", name="old-judge")
    JudgeConfig.objects.filter(pk=retired.pk).update(is_active=False)
    failed = JudgeRun.objects.create(batch=batch, judge_config=config, backend="live", status="failed", total=6,
                                     done=4, failed=2, last_error="judge failed: server error 503")
    stale = JudgeRun.objects.create(batch=batch, judge_config=retired, backend="live", status="failed", total=6)
    rows = {(r.kind, r.pk): r for r in jobs_recent()}
    assert (rows[("judge run", failed.pk)].retry, rows[("judge run", failed.pk)].config_id) == (True, config.pk)
    assert not rows[("judge run", stale.pk)].retry  # a retired configuration cannot run again
    client.force_login(lead_user)
    page = client.get(reverse("dashboard:jobs")).content.decode()
    start = reverse("dashboard:judge-start", args=[batch.pk])
    assert page.count(f'action="{start}"') == 1 and f'name="judge_config" value="{config.pk}"' in page
    preview = client.post(start, {"judge_config": config.pk})
    body = preview.content.decode()
    assert preview.status_code == 200 and 'data-confirm-step="batch-rejudge"' in body
    # judge-x's 3 x 2 verdicts now; the run's 3 items x 2 orders after
    assert 'data-figure="verdicts" data-before="6" data-after="6"' in body
    assert JudgeRun.objects.filter(batch=batch).count() == 2  # nothing started by the preview
    done = client.post(start, {"judge_config": config.pk, TOKEN_FIELD: confirm_token(body)})
    assert done.status_code == 302
    assert JudgeRun.objects.filter(batch=batch, judge_config=config).count() == 2


def test_jobs_failed_backtest_retries_with_its_own_parameters(db, client, lead_user, settings, tmp_path):
    settings.BASE_DIR = tmp_path  # the backtests' result files
    batch = factories.batch("jobs-bt", items=[factories.pairwise_item(i) for i in range(4)]).batch
    params = {"batch": batch.pk, "alpha": 0.2, "delta": 0.1, "splits": 3}
    backtest_pending_mark(token="feedc0de01", batch=batch, params=params)
    backtest_failure_save(token="feedc0de01", error="The backtest failed (MemoryError); run it again.")
    backtest_pending_mark(token="feedc0de02", batch=batch)  # still queued: no Retry
    rows = [r for r in jobs_recent() if r.kind == "backtest"]
    assert [(r.status, r.retry, r.params, r.reason) for r in rows] == [
        ("queued", False, None, ""),
        ("failed", True, params, "The backtest failed (MemoryError); run it again.")]
    client.force_login(lead_user)
    page = client.get(reverse("dashboard:jobs")).content.decode()
    assert f'action="{reverse("routing:backtest")}"' in page
    assert '<input type="hidden" name="alpha" value="0.2">' in page
    assert f'<input type="hidden" name="batch" value="{batch.pk}">' in page
    again = client.post(reverse("routing:backtest"), params)
    assert again.status_code == 400  # run again by the backtest itself, which names its own reason:
    assert "only 4 items with a human reference; the backtest needs at least 20" in again.content.decode()


def _failed_job(kind: str) -> ImportJob | ExportJob:
    if kind == "imports":
        return ImportJob.objects.create(batch_name="r", upload="imports/x.jsonl", status="failed", error_count=1)
    return ExportJob.objects.create(batch=factories.batch("r").batch, fmt="jsonl", status="failed", error="boom")


@pytest.mark.parametrize(("kind", "noun"), [("imports", "import"), ("exports", "export")])
def test_job_retry_queues_a_failed_job_once_then_answers_409_with_its_block(db, client, lead_user, kind, noun,
                                                                           django_capture_on_commit_callbacks):
    job = _failed_job(kind)
    client.force_login(lead_user)
    with django_capture_on_commit_callbacks() as enqueued:
        first = client.post(f"/control/{kind}/{job.pk}/retry/", headers={"HX-Request": "true"})
    assert (first.status_code, len(enqueued), type(job).objects.get(pk=job.pk).status) == (202, 1, "queued")
    assert "can be retried" not in first.content.decode()
    with django_capture_on_commit_callbacks() as enqueued:
        again = client.post(f"/control/{kind}/{job.pk}/retry/", headers={"HX-Request": "true"})
    assert (again.status_code, len(enqueued)) == (409, 0)
    assert f"Only a failed {noun} can be retried; this one is queued." in again.content.decode()
    plain = client.post(f"/control/{kind}/{job.pk}/retry/")
    assert (plain.status_code, plain["Location"]) == (302, f"/control/{kind}/{job.pk}/")
