"""Lineage exports as background jobs: a lead starts one (``export_job_create``), the
``dashboard.tasks.export_job_run`` task writes the file to the default storage
(``export_job_execute``) while the page polls the job row's ``rows_done`` of ``rows_total``,
and the download then knows what the file left out.

The file is the synchronous export's bytes exactly (the same writers over the same rows); it is
spooled to a temporary file on disk and handed to the storage whole, so memory holds one page.
Every state change is a conditional UPDATE on the status (and attempt) it expects, so a
redelivered task never runs a job twice nor overwrites a newer attempt's outcome.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db.models import Q
from django.utils import timezone

from hybridqc.queueing import DATABASE_DOWN
from routing.batches.jobs import job_claim
from routing.batches.models import Batch
from routing.decisions.models import RoutingDecision

from .export import LineageExport, lineage_export
from .export_formats import EXTENSIONS, FORMATS, export_write
from .export_left_out import left_out_text
from .models import ExportJob

log = logging.getLogger(__name__)
# Rows read between two progress writes: a 1 s poll sees it move, the row is written rarely.
PROGRESS_EVERY = 1000
GATE_CLOSED = "the release gate holds now ({reasons}); start the export again and confirm it"
SWEPT = "no worker finished it (the message was lost or the worker stopped); Retry starts it again"


def export_job_create(*, batch: Batch, fmt: str, user: Any, confirmed: bool) -> ExportJob:
    """A queued export; the caller enqueues ``dashboard.tasks.export_job_run`` on commit."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return ExportJob.objects.create(batch=batch, fmt=fmt, confirmed=confirmed,
                                    created_by=user if user is not None and user.is_authenticated else None)


def export_job_retry(*, job: ExportJob) -> bool:
    """Queue a failed job again from the start; False when it had not failed."""
    return ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.FAILED).update(
        status=ExportJob.Status.QUEUED, error="", rows_done=0, rows_written=0, left_out={}, finished_at=None,
        queued_at=timezone.now(),
    ) == 1


def _mine(job: ExportJob) -> Any:
    """This attempt's row: a later attempt (after a stale claim) owns the job from then on."""
    return ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.RUNNING, attempts=job.attempts)


def _counted(export: LineageExport, job: ExportJob) -> LineageExport:
    def rows() -> Iterator[dict[str, Any]]:
        done = 0
        for done, row in enumerate(export.rows, start=1):
            if done % PROGRESS_EVERY == 0:
                _mine(job).update(rows_done=done)
            yield row
        _mine(job).update(rows_done=done)

    return dataclasses.replace(export, rows=rows())


def _write(job: ExportJob, export: LineageExport) -> None:
    written = export_write(_counted(export, job), job.fmt)
    with tempfile.TemporaryFile() as spool:
        for chunk in written.chunks:
            spool.write(chunk)
        spool.seek(0)
        name = f"{job.pk}-{job.batch.name}-lineage.{EXTENSIONS[job.fmt]}"
        job.file.save(name, File(spool), save=False)
    if not _mine(job).update(status=ExportJob.Status.DONE, finished_at=timezone.now(), file=job.file.name,
                             rows_written=written.rows, left_out=dict(sorted(written.left_out.items())),
                             released=export.released):
        job.file.delete(save=False)  # another attempt owns the job now; its own file stands


def _failed(job: ExportJob, reason: str) -> None:
    _mine(job).update(status=ExportJob.Status.FAILED, finished_at=timezone.now(), error=reason[:500])


def export_job_execute(*, job_id: int, retrying: bool = False) -> ExportJob | None:
    """Write a queued job's file; None when the job is gone, finished or running elsewhere.
    ``retrying``: the task's retry after the database was unreachable (that error is raised, not stored)."""
    # A running job older than the task's hard time limit is one whose worker died.
    job = job_claim(jobs=ExportJob.objects.select_related("batch"), job_id=job_id, retrying=retrying,
                    stale_after=timedelta(seconds=settings.EXPORT_JOB_TIME_LIMIT), rows_done=0)
    if job is None:
        return None
    if job.file:
        job.file.delete(save=False)  # an earlier attempt's file
    try:
        export = lineage_export(job.batch)
        total = RoutingDecision.objects.filter(example__batch=job.batch).count()
        _mine(job).update(rows_total=total, released=export.released)
        if not export.released and not job.confirmed:
            _failed(job, GATE_CLOSED.format(reasons="; ".join(export.gate_reasons)))
        else:
            _write(job, export)
    except DATABASE_DOWN:
        raise
    except Exception as exc:
        log.exception("export job %s failed", job.pk)
        _failed(job, f"the export stopped: {type(exc).__name__}: {exc}")
    job.refresh_from_db()
    return job


def export_jobs_sweep(*, stale_before: datetime) -> int:
    """Fail, with a reason and so a Retry, the jobs no worker took since ``stale_before`` and the
    running ones that outlived the task's hard time limit by as long. Returns how many."""
    outlived = stale_before - timedelta(seconds=settings.EXPORT_JOB_TIME_LIMIT)
    lost = Q(status=ExportJob.Status.QUEUED, queued_at__lt=stale_before)
    stopped = Q(status=ExportJob.Status.RUNNING, started_at__lt=outlived)
    return ExportJob.objects.filter(lost | stopped).update(status=ExportJob.Status.FAILED, error=SWEPT,
                                                           finished_at=timezone.now())


def left_out_header(job: ExportJob) -> str:
    """``X-HybridQC-Left-Out`` of the job's file, as the streamed export words it."""
    return left_out_text(job.left_out)


def export_job_latest(batch: Batch) -> ExportJob | None:
    return ExportJob.objects.filter(batch=batch).order_by("-created_at", "-id").first()
