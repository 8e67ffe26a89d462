"""Reads of background import jobs: the one figure set the progress block and the API show."""

from __future__ import annotations

from typing import Any

from routing.ingest.models import ImportJob


def import_job_phase(job: ImportJob) -> str:
    """queued, validating (reading the file), writing (all read; rows going into the tables), done, failed."""
    if job.status == ImportJob.Status.RUNNING:
        return "writing" if job.size_bytes and job.bytes_read >= job.size_bytes else "validating"
    return str(job.status)


def import_job_percent(job: ImportJob) -> int:
    """Whole percent of the file read (a finished job: 100; a queued one or an empty file: 0)."""
    if job.status == ImportJob.Status.DONE:
        return 100
    if not job.size_bytes:
        return 0
    return min(100, job.bytes_read * 100 // job.size_bytes)


def import_job_progress(job: ImportJob) -> dict[str, Any]:
    return {
        "id": job.pk,
        "status": job.status,
        "phase": import_job_phase(job),
        "percent": import_job_percent(job),
        "finished": job.finished,
        "batch_name": job.batch_name,
        "batch_id": job.batch_id,
        "source_name": job.source_name,
        "size_bytes": job.size_bytes,
        "lines_read": job.lines_read,
        "bytes_read": job.bytes_read,
        "examples_written": job.examples_written,
        "skipped": job.skipped,
        "judgments_written": job.judgments_written,
        "labels_written": job.labels_written,
        "error_count": job.error_count,
        "errors": job.errors,
        "attempts": job.attempts,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }
