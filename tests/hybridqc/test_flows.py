"""The cross-app flow (hybridqc.flows): import, route, re-route, and the label port routing reads."""

from __future__ import annotations

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError

from hybridqc.flows.batches import batch_reroute, batch_route
from hybridqc.flows.imports import batch_import
from hybridqc.flows.tasks import batch_pipeline_run, import_job_run
from reviewers.models import HumanLabel, ReviewTask
from reviewers.references import HumanLabelSource
from reviewers.services import review_task_claim
from routing.batches import labels
from routing.batches.models import Batch, Example
from routing.batches.selectors import example_references
from routing.decisions.models import RoutingDecision
from routing.ingest.import_jobs import import_job_create
from routing.ingest.models import ImportJob
from routing.judging.models import Judgment
from tests import factories
from tests.support.locks import lock_held

# Position-biased verdicts: every item goes to a human whatever the threshold.
BIASED = [{"judge": "r", "variant": f"v{k}", "order": o, "choice": c}
          for k, (o, c) in enumerate([("ab", 1), ("ab", 1), ("ab", 1), ("ba", 2), ("ba", 2), ("ba", 1)])]


def test_batch_reroute_keeps_an_open_leased_task_and_replaces_an_untaken_one(db):
    holder = factories.profile("holder", prefixes=("test",))
    batch = factories.batch("held", items=[factories.pairwise_item(i, judgments=BIASED) for i in range(2)],
                            audit_rate=0.0).batch
    assert batch_route(batch=batch) == 2
    leased = review_task_claim(reviewer=holder)
    assert leased is not None
    untaken = ReviewTask.objects.get(example__batch=batch, status=ReviewTask.Status.OPEN)
    kept_decision = RoutingDecision.objects.get(example_id=leased.example_id).pk
    old_decision = RoutingDecision.objects.get(example_id=untaken.example_id).pk
    assert batch_reroute(batch=batch) == 1
    held = ReviewTask.objects.get(pk=leased.pk)
    assert (held.status, held.assignee_id, held.lease_expires_at) == (
        ReviewTask.Status.LEASED, holder.pk, leased.lease_expires_at)
    assert RoutingDecision.objects.get(example_id=leased.example_id).pk == kept_decision
    assert not ReviewTask.objects.filter(pk=untaken.pk).exists()
    assert RoutingDecision.objects.get(example_id=untaken.example_id).pk != old_decision
    assert ReviewTask.objects.filter(example__batch=batch).count() == 2


def test_batch_import_stores_labels_and_queues_routing_only_when_asked(db, django_capture_on_commit_callbacks):
    items = factories.jsonl([factories.pairwise_item(i) for i in range(3)])
    with django_capture_on_commit_callbacks() as queued:
        result = batch_import(batch_name="quiet", lines=items)
    # Every import queues its prompts' search indexing; only a routed one queues its pipeline too.
    assert (result.created, result.human_labels, len(queued)) == (3, 3, 1)
    with django_capture_on_commit_callbacks() as queued:
        batch_import(batch_name="routed", lines=items, route=True)
    assert len(queued) == 2
    assert HumanLabel.objects.filter(example__batch__name="routed", source=HumanLabel.Source.IMPORT).count() == 3


def test_example_references_adjudicated_label_wins_else_majority_else_none(db):
    # Each example already holds one imported label, choice 1 (factories.pairwise_item).
    majority, adjudicated, tied = factories.make_examples(3, name="refs")
    for example, choices in ((majority, [2, 2]), (adjudicated, [2, 2]), (tied, [2])):
        for choice in choices:
            HumanLabel.objects.create(example=example, source=HumanLabel.Source.REVIEW, choice=choice)
    task = ReviewTask.objects.create(example=adjudicated, kind=ReviewTask.Kind.ADJUDICATION,
                                     status=ReviewTask.Status.DONE)
    HumanLabel.objects.create(example=adjudicated, task=task, source=HumanLabel.Source.REVIEW, choice=1)
    # majority: [1, 2, 2] -> 2; adjudicated: the adjudicator's 1 over the majority 2; tied: [1, 2] -> none.
    assert example_references([majority, adjudicated, tied]) == {majority.pk: 2.0, adjudicated.pk: 1.0}


def test_label_source_is_registered_by_the_reviewers_app_and_loud_when_missing(monkeypatch):
    assert isinstance(labels.label_source(), HumanLabelSource)
    monkeypatch.setattr(labels, "_registered", [])
    with pytest.raises(ImproperlyConfigured, match="no human-label source registered"):
        labels.label_source()


def _rating_batch_that_breaks_the_pipeline(name: str) -> Batch:
    """A rating item whose only judgment has a choice and no rating: the pipeline's rating
    statistics raise StatisticsError on it (a row the import would refuse, written directly)."""
    batch = factories.batch(name, items=[factories.rating_item(0)]).batch
    Judgment.objects.filter(example__batch=batch).delete()
    Judgment.objects.create(example=batch.examples.get(), judge="j", choice=1, rating=None)
    return batch


def test_batch_pipeline_run_in_process_keeps_the_failed_batch_without_raising_into_the_caller(db):
    batch = _rating_batch_that_breaks_the_pipeline("breaks-eager")
    assert batch_pipeline_run.apply(args=[batch.pk]).get() == 0
    assert Batch.objects.get(pk=batch.pk).status == "failed"


LOCK_TIMEOUT = "OperationalError: canceling statement due to lock timeout"


def test_batch_pipeline_run_retries_a_transient_database_error_instead_of_failing_the_batch(
        transactional_db, eager_retries):
    """Another connection holds the batch's row lock and routing may wait 100 ms for it: PostgreSQL
    cancels the wait (an OperationalError), so the task retries, ten times, and the batch stays
    "routing"; once the lock is gone the task routes it."""
    batch = factories.batch("locked", items=[factories.pairwise_item(0)]).batch
    Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.ROUTING)
    with lock_held(f"SELECT id FROM {Batch._meta.db_table} WHERE id = %s FOR UPDATE", [batch.pk]) as locker:
        given_up = batch_pipeline_run.apply(args=[batch.pk])
        locked = Batch.objects.get(pk=batch.pk)
        locker.rollback()
        routed = batch_pipeline_run.apply(args=[batch.pk])
    assert eager_retries == [LOCK_TIMEOUT] * 10
    assert (given_up.state, type(given_up.result)) == ("FAILURE", OperationalError)
    assert (locked.status, locked.status_detail) == ("routing", "")
    assert (routed.state, routed.result, Batch.objects.get(pk=batch.pk).status) == ("SUCCESS", 1, "ready")


def test_import_job_run_retries_a_transient_database_error_and_its_retry_takes_the_job_back(
        transactional_db, eager_retries):
    """The examples table locked by another connection: the import's writes time out, the task
    retries (each retry takes back the job it claimed), the job stays running, never failed; a
    retry once the lock is gone imports the file. A fresh delivery leaves the running job alone."""
    upload = SimpleUploadedFile("j.jsonl", ("\n".join(factories.jsonl([factories.pairwise_item(0)])) + "\n").encode())
    job = import_job_create(upload=upload, batch_name="bg-locked", user=None, batch_fields={})
    with lock_held(f"LOCK TABLE {Example._meta.db_table} IN ACCESS EXCLUSIVE MODE") as locker:
        given_up = import_job_run.apply(args=[job.pk])
        locked = ImportJob.objects.get(pk=job.pk)
        locker.rollback()
    duplicate = import_job_run.apply(args=[job.pk])
    retried = import_job_run.apply(args=[job.pk], retries=1)
    # The COPY path runs on psycopg's own cursor: its error class, which Django does not wrap.
    assert eager_retries == ["LockNotAvailable: canceling statement due to lock timeout"] * 10
    assert (given_up.state, type(given_up.result)) == ("FAILURE", psycopg.errors.LockNotAvailable)
    assert (locked.status, locked.attempts, locked.error_count) == ("running", 11, 0)
    assert (duplicate.result, retried.result) == ("skipped", "done")
    done = ImportJob.objects.get(pk=job.pk)
    assert (done.status, done.attempts, done.examples_written) == ("done", 12, 1)
