"""Background import jobs, service level: outcome, progress figures, errors and retry."""

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from routing.batches.models import Batch, Example
from routing.ingest import import_jobs
from routing.ingest.import_jobs import import_job_create, import_job_execute, import_job_retry
from routing.ingest.models import ImportJob
from routing.ingest.selectors import import_job_percent, import_job_phase, import_job_progress
from tests import factories


def _data(items) -> bytes:
    return ("\n".join(factories.jsonl(items)) + "\n").encode()


def _job(data: bytes, name: str = "bg") -> ImportJob:
    upload = SimpleUploadedFile("bg.jsonl", data)
    return import_job_create(upload=upload, batch_name=name, user=None,
                             batch_fields={"confidence_threshold": 0.7, "audit_rate": 0.2})


def test_import_job_execute_imports_the_stored_file_with_the_batch_fields(db):
    job = import_job_execute(job_id=_job(_data([factories.pairwise_item(i) for i in range(4)])).pk)
    assert job is not None
    assert (job.status, job.examples_written, job.skipped, job.judgments_written, job.labels_written,
            job.attempts) == ("done", 4, 0, 8, 4, 1)
    assert (job.batch.name, job.batch.confidence_threshold, job.batch.audit_rate) == ("bg", 0.7, 0.2)
    assert not job.upload  # the stored copy is removed once the rows are in


def test_import_job_execute_bad_line_fails_with_line_and_field_and_writes_nothing(db):
    lines = factories.jsonl([factories.pairwise_item(0), factories.pairwise_item(1, responses=["x"])])
    job = import_job_execute(job_id=_job(("\n".join(lines) + "\n").encode()).pk)
    assert job is not None
    assert (job.status, job.error_count) == ("failed", 1)
    assert job.errors == [{"line": 2, "field": "responses", "message": "pairwise items need exactly 2, got 1"}]
    assert (Batch.objects.count(), Example.objects.count()) == (0, 0)
    assert job.upload  # kept for a retry


def test_import_job_execute_keeps_at_most_the_configured_errors(db, settings):
    settings.IMPORT_JOB_MAX_ERRORS = 2
    job = import_job_execute(job_id=_job(b"{a\n{b\n{c\n").pk)
    assert job is not None
    assert (job.error_count, [e["line"] for e in job.errors]) == (3, [1, 2])


def test_import_job_execute_finished_job_is_not_run_again(db):
    job = _job(_data([factories.pairwise_item(0)]))
    import_job_execute(job_id=job.pk)
    assert import_job_execute(job_id=job.pk) is None
    assert ImportJob.objects.get(pk=job.pk).attempts == 1


def test_import_job_execute_takes_over_a_running_job_only_once_it_is_stale(db):
    job = _job(_data([factories.pairwise_item(0)]))
    ImportJob.objects.filter(pk=job.pk).update(status="running", started_at=timezone.now() - timedelta(minutes=5))
    assert import_job_execute(job_id=job.pk) is None
    ImportJob.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(minutes=31))
    taken = import_job_execute(job_id=job.pk)
    assert taken is not None
    assert (taken.status, taken.examples_written, taken.attempts) == ("done", 1, 1)


def test_import_job_retry_requeues_only_a_failed_job(db):
    failed = import_job_execute(job_id=_job(b"{bad\n").pk)
    done = import_job_execute(job_id=_job(_data([factories.pairwise_item(0)]), name="ok").pk)
    assert failed is not None and done is not None
    assert (import_job_retry(job=failed), import_job_retry(job=done)) == (True, False)
    failed.refresh_from_db()
    assert (failed.status, failed.errors, failed.error_count) == ("queued", [], 0)


def test_import_job_progress_percent_and_phase_hand_computed(db):
    job = ImportJob(batch_name="p", size_bytes=400, bytes_read=150, status=ImportJob.Status.RUNNING)
    assert (import_job_percent(job), import_job_phase(job)) == (37, "validating")
    job.bytes_read = 400
    assert (import_job_percent(job), import_job_phase(job)) == (100, "writing")
    job.status, job.bytes_read = ImportJob.Status.QUEUED, 0
    assert (import_job_percent(job), import_job_phase(job)) == (0, "queued")
    job.status = ImportJob.Status.DONE
    assert import_job_progress(job)["percent"] == 100


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite (the demo) writes no progress meanwhile")
@pytest.mark.django_db(transaction=True)
def test_import_job_execute_writes_lines_and_bytes_read_on_its_own_connection(monkeypatch):
    monkeypatch.setattr(import_jobs, "PROGRESS_EVERY", 2)
    writes = []
    real = import_jobs._progress_writer

    def recording(job_id):
        write, close = real(job_id)
        return (lambda lines, size: (writes.append((lines, size)), write(lines, size))), close

    monkeypatch.setattr(import_jobs, "_progress_writer", recording)
    lines = [json.dumps(factories.pairwise_item(i)) + "\n" for i in range(5)]
    job = import_job_execute(job_id=_job("".join(lines).encode()).pk)
    assert job is not None
    sizes = [len(line.encode()) for line in lines]
    assert writes == [(2, sum(sizes[:2])), (4, sum(sizes[:4])), (5, sum(sizes))]
    assert (job.lines_read, job.bytes_read, job.size_bytes) == (5, sum(sizes), sum(sizes))
