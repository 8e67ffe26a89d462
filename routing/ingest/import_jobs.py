"""Background imports: a large upload is stored as a file on an ImportJob row, and a Celery task
imports it (``import_job_execute``) while the page and the API poll the row's progress.

Progress is written on a connection of its own (autocommit), because the import itself runs in
one transaction that nobody else can see into until it commits.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection
from django.utils import timezone

from hybridqc.queueing import DATABASE_DOWN
from routing.batches.jobs import job_claim
from routing.ingest.import_v1 import ImportResult, batch_import
from routing.ingest.import_validation import ImportValidationError, LineError
from routing.ingest.models import ImportJob

log = logging.getLogger(__name__)
# Lines between two progress writes: often enough for a 1 s poll, rare enough to cost nothing.
PROGRESS_EVERY = 5000
# A running job younger than this is a live run elsewhere, not one whose worker died.
STALE_AFTER = timedelta(minutes=30)
INTERNAL_ERROR = "the import stopped on an internal error (see the worker log); nothing was written"

ProgressWriter = Callable[[int, int], None]


def import_job_create(*, upload: UploadedFile, batch_name: str, user: Any, batch_fields: dict[str, Any]) -> ImportJob:
    """Store ``upload`` (moved, not copied, when Django spooled it to disk) on a queued job.
    The caller enqueues ``hybridqc.flows.tasks.import_job_run`` on commit."""
    # Stored as JSON: a batch date travels as its ISO text (the import parses it back).
    fields = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in batch_fields.items()}
    job = ImportJob(batch_name=batch_name, batch_fields=fields, source_name=upload.name or "",
                    size_bytes=upload.size or 0, created_by=user if user and user.is_authenticated else None)
    job.upload.save(f"{uuid.uuid4().hex}.jsonl", upload, save=False)
    job.save()
    return job


def import_job_retry(*, job: ImportJob) -> bool:
    """Queue a failed job again (its stored file is kept); False when it had not failed."""
    requeued = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.FAILED).update(
        status=ImportJob.Status.QUEUED, errors=[], error_count=0, lines_read=0, bytes_read=0, finished_at=None
    )
    return requeued == 1


def _progress_writer(job_id: int) -> tuple[ProgressWriter, Callable[[], None]]:
    """A writer of (lines, bytes) read, on its own autocommit connection, and its closer."""
    if connection.vendor != "postgresql":
        # SQLite (the demo) has one writer at a time: the import's transaction holds it.
        return (lambda lines, size: None), (lambda: None)
    raw = connection.get_new_connection(connection.get_connection_params())
    raw.autocommit = True
    sql = f"UPDATE {ImportJob._meta.db_table} SET lines_read = %s, bytes_read = %s WHERE id = %s"  # noqa: S608 - table name only

    def write(lines: int, size: int) -> None:
        raw.execute(sql, [lines, size, job_id])

    return write, raw.close


def _counted(lines: Iterable[bytes], write: ProgressWriter) -> Iterator[bytes]:
    """The lines, unchanged, reporting every PROGRESS_EVERY lines how far validation has read."""
    number = size = 0
    for number, raw in enumerate(lines, start=1):
        size += len(raw)
        if number % PROGRESS_EVERY == 0:
            write(number, size)
        yield raw
    write(number, size)


def _job_failed(job: ImportJob, errors: list[LineError]) -> None:
    cap = settings.IMPORT_JOB_MAX_ERRORS
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.FAILED, finished_at=timezone.now(), error_count=len(errors),
        errors=[{"line": e.line, "field": e.field, "message": e.message} for e in errors[:cap]],
    )


def _job_done(job: ImportJob, result: ImportResult) -> None:
    # The rows are in the tables now; the copy of the upload is no longer needed.
    job.upload.delete(save=False)
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.DONE, finished_at=timezone.now(), batch=result.batch, upload="",
        examples_written=result.created, skipped=result.skipped, judgments_written=result.judgments,
        labels_written=result.human_labels,
    )


def import_job_execute(*, job_id: int, retrying: bool = False) -> ImportJob | None:
    """Import a queued job's file; None when the job is gone or already finished. ``retrying``:
    the task's retry after the database was unreachable (the error is raised, not stored)."""
    # A long-running job is taken over too: a task redelivered after its worker died (once the
    # broker's visibility timeout has passed) starts over, which the idempotent import allows.
    job = job_claim(jobs=ImportJob.objects.all(), job_id=job_id, retrying=retrying, stale_after=STALE_AFTER)
    if job is None:
        return None
    write, close = _progress_writer(job.pk)
    try:
        with job.upload.open("rb") as fh:
            result = batch_import(batch_name=job.batch_name, lines=_counted(fh, write), source_name=job.source_name,
                                  user=job.created_by, **job.batch_fields)
    except ImportValidationError as exc:
        _job_failed(job, exc.errors)
    except DATABASE_DOWN:
        raise  # transient: the task retries, and the import (one transaction) starts over
    except Exception:
        log.exception("import job %s failed", job.pk)
        _job_failed(job, [LineError(0, "(file)", INTERNAL_ERROR)])
    else:
        _job_done(job, result)
    finally:
        close()
    job.refresh_from_db()
    return job
