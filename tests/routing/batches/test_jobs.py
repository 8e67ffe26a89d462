"""The abstract ``Job`` every kind of background job row shares: finished means done or failed,
and the newest comes first (by creation time, then id)."""

import datetime

import pytest

from dashboard.models import ExportJob
from routing.ingest.models import ImportJob
from routing.training.models import RetrainJob


@pytest.mark.parametrize("model", [ImportJob, RetrainJob, ExportJob])
def test_job_finished_exactly_when_done_or_failed(model):
    finished = {status: model(status=status).finished for status in model.Status.values}
    assert finished == {"queued": False, "running": False, "done": True, "failed": True}


@pytest.mark.parametrize("model", [ImportJob, RetrainJob])
def test_job_list_is_newest_first_then_highest_id(db, model):
    fields = {"batch_name": "jobs", "upload": "imports/x.jsonl"} if model is ImportJob else {}
    jobs = [model.objects.create(**fields) for _ in range(3)]
    t0 = datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC)
    for job, minutes in zip(jobs, (5, 0, 5), strict=True):
        model.objects.filter(pk=job.pk).update(created_at=t0 + datetime.timedelta(minutes=minutes))
    assert list(model.objects.values_list("pk", flat=True)) == [jobs[2].pk, jobs[0].pk, jobs[1].pk]
