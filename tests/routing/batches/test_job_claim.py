"""``job_claim``, the one claim of every kind of background job: a queued job is taken once, a
running one only when stale (its worker died) or by the task's own retry, each time one attempt more."""

import datetime

import pytest
from django.utils import timezone

from dashboard.models import ExportJob
from routing.batches.jobs import job_claim
from routing.ingest.models import ImportJob
from routing.training.models import RetrainJob
from tests import factories

STALE = datetime.timedelta(minutes=30)


def _job(model):
    if model is ImportJob:
        return ImportJob.objects.create(batch_name="claim", upload="imports/x.jsonl")
    if model is ExportJob:
        batch = factories.batch("claim", items=[factories.pairwise_item(0)]).batch
        return ExportJob.objects.create(batch=batch, fmt="jsonl")
    return RetrainJob.objects.create()


@pytest.mark.parametrize("model", [ImportJob, RetrainJob, ExportJob])
def test_job_claim_takes_a_queued_job_once(db, model):
    job = _job(model)
    claimed = job_claim(jobs=model.objects.all(), job_id=job.pk, retrying=False, stale_after=STALE)
    assert (claimed.pk, claimed.status, claimed.attempts) == (job.pk, "running", 1)
    assert claimed.started_at is not None
    assert job_claim(jobs=model.objects.all(), job_id=job.pk, retrying=False, stale_after=STALE) is None
    assert model.objects.get(pk=job.pk).attempts == 1


@pytest.mark.parametrize("model", [ImportJob, RetrainJob])
def test_job_claim_takes_back_a_stale_running_job_with_one_attempt_more(db, model):
    job = _job(model)
    job_claim(jobs=model.objects.all(), job_id=job.pk, retrying=False, stale_after=STALE)
    started = timezone.now() - STALE - datetime.timedelta(seconds=1)
    model.objects.filter(pk=job.pk).update(started_at=started)
    again = job_claim(jobs=model.objects.all(), job_id=job.pk, retrying=False, stale_after=STALE)
    assert (again.status, again.attempts, again.started_at > started) == ("running", 2, True)


def test_job_claim_leaves_a_running_job_younger_than_stale_after(db):
    job = _job(ImportJob)
    job_claim(jobs=ImportJob.objects.all(), job_id=job.pk, retrying=False, stale_after=STALE)
    ImportJob.objects.filter(pk=job.pk).update(started_at=timezone.now() - STALE + datetime.timedelta(minutes=1))
    assert job_claim(jobs=ImportJob.objects.all(), job_id=job.pk, retrying=False, stale_after=STALE) is None
    assert ImportJob.objects.get(pk=job.pk).attempts == 1


def test_job_claim_without_stale_after_never_takes_a_running_job_but_its_retry_does(db):
    job = _job(RetrainJob)
    job_claim(jobs=RetrainJob.objects.all(), job_id=job.pk, retrying=False, stale_after=None)
    RetrainJob.objects.filter(pk=job.pk).update(started_at=timezone.now() - datetime.timedelta(days=365))
    assert job_claim(jobs=RetrainJob.objects.all(), job_id=job.pk, retrying=False, stale_after=None) is None
    retried = job_claim(jobs=RetrainJob.objects.all(), job_id=job.pk, retrying=True, stale_after=None)
    assert (retried.status, retried.attempts) == ("running", 2)


@pytest.mark.parametrize("status", ["done", "failed"])
def test_job_claim_never_takes_a_finished_job_even_on_retry(db, status):
    job = _job(ImportJob)
    ImportJob.objects.filter(pk=job.pk).update(status=status)
    assert job_claim(jobs=ImportJob.objects.all(), job_id=job.pk, retrying=True, stale_after=STALE) is None
    assert (ImportJob.objects.get(pk=job.pk).status, ImportJob.objects.get(pk=job.pk).attempts) == (status, 0)


def test_job_claim_writes_the_reset_fields_and_returns_the_row_as_the_queryset_reads_it(db):
    job = _job(ExportJob)
    ExportJob.objects.filter(pk=job.pk).update(rows_done=7)
    claimed = job_claim(jobs=ExportJob.objects.select_related("batch"), job_id=job.pk, retrying=False,
                        stale_after=STALE, rows_done=0)
    assert (claimed.rows_done, claimed.batch.name) == (0, "claim")
