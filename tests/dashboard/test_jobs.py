"""The jobs list: one selector over the job tables (imports, judge runs, routings, retrains),
running jobs first, with progress, the failure reason and Retry where it applies."""

from __future__ import annotations

from django.urls import reverse

from hybridqc.flows.batches import batch_route
from routing.batches.models import Batch
from routing.decisions.models import RoutingRun
from routing.ingest.models import ImportJob
from routing.judging.models import JudgeRun
from routing.scoring.models import RouterModel
from routing.training.selectors import jobs_recent
from tests import factories


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
