"""A retrain asked for from the model page is a job row: the flash and the page say its real
state (queued only while it is queued), and a finished job tells the polling page to reload."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.urls import reverse

from hybridqc.flows.imports import batch_import
from reviewers.models import HumanLabel
from routing.batches.models import Example
from routing.judging.models import Judgment
from routing.training.models import RetrainJob
from routing.training.retrain_jobs import retrain_job_create, retrain_job_run
from routing.training.selectors import jobs_recent
from tests import factories
from tests.support.confirm import post_confirmed
from tests.support.locks import lock_held


def test_retrain_job_run_records_the_version_and_runs_once(db, lead_user):
    batch_import(batch_name="history", lines=factories.data_lines("llmbar.jsonl", 300))
    job = retrain_job_create(user=lead_user)
    assert job.status == "queued"
    done = retrain_job_run(job_id=job.pk)
    assert (done.status, done.version, done.error) == ("done", 1, "")
    assert done.summary.startswith("v1 trained and activated")
    assert retrain_job_run(job_id=job.pk).version == 1  # a redelivery trains nothing more
    [row] = [r for r in jobs_recent() if r.kind == "retrain"]
    assert (row.status, row.percent, row.title) == ("done", 100, "retrain asked for: router v1")


def test_retrain_job_without_history_fails_with_the_reason(db, lead_user):
    job = retrain_job_run(job_id=retrain_job_create(user=lead_user).pk)
    assert job.status == "failed" and job.error.startswith("Not retrained: ")
    assert [r.retry for r in jobs_recent() if r.kind == "retrain"] == [True]


def test_retrain_model_page_polls_while_queued_and_reloads_when_done(db, client, lead_user):
    client.force_login(lead_user)
    job = retrain_job_create(user=lead_user)
    page = client.get(reverse("routing:model")).content.decode()
    assert 'data-retrain-status="queued"' in page and "every 2s" in page and "Retraining…" in page
    RetrainJob.objects.filter(pk=job.pk).update(status="done", version=1, summary="v1 trained")
    poll = client.get(reverse("routing:model"), {"part": "retrain", "was": "busy"}, HTTP_HX_REQUEST="true")
    assert poll["HX-Refresh"] == "true" and "every 2s" not in poll.content.decode()


def test_retrain_flash_says_queued_only_while_queued(db, client, lead_user):
    # The test's transaction never commits, so the message is never sent: the job stays queued.
    client.force_login(lead_user)
    page = post_confirmed(client, reverse("routing:router_retrain"), follow=True).content.decode()
    assert "Retraining queued" in page and RetrainJob.objects.get().status == "queued"


def test_retrain_job_run_raises_a_transient_database_error_and_only_its_retry_takes_the_job_back(
        transactional_db, lead_user):
    """The tables training reads locked by another connection: the error is raised (the task
    retries), not stored; the job stays running for the retry, which a fresh delivery leaves alone."""
    job = retrain_job_create(user=lead_user)
    tables = ", ".join(m._meta.db_table for m in (Example, Judgment, HumanLabel))
    with (lock_held(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE"),
          pytest.raises(OperationalError, match="^canceling statement due to lock timeout")):
        retrain_job_run(job_id=job.pk)
    assert (RetrainJob.objects.get(pk=job.pk).status, RetrainJob.objects.get(pk=job.pk).error) == ("running", "")
    assert retrain_job_run(job_id=job.pk).status == "running"  # a redelivery: not its job to take
    retried = retrain_job_run(job_id=job.pk, retrying=True)
    assert (retried.status, retried.error.startswith("Not retrained: ")) == ("failed", True)  # no history
