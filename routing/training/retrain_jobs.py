"""Retrains a lead asks for, as job rows: queued by the page, run once by a worker."""

from __future__ import annotations

import logging

from django.contrib.auth.models import AnonymousUser, User
from django.utils import timezone

from hybridqc.queueing import DATABASE_DOWN
from routing.batches.jobs import job_claim
from routing.training.models import RetrainJob
from routing.training.router_promotion import promotion_summary
from routing.training.router_training import RouterTrainingError, router_train

log = logging.getLogger(__name__)


def retrain_job_create(*, user: User | AnonymousUser | None) -> RetrainJob:
    return RetrainJob.objects.create(requested_by=user if isinstance(user, User) else None)


def retrain_job_run(*, job_id: int, retrying: bool = False) -> RetrainJob | None:
    """Run a queued retrain (a redelivery of one already taken does nothing) and store what it
    decided, or why it could not train. ``retrying``: the task's retry after the database was
    unreachable (the error is raised, not stored), which takes back the job it had claimed."""
    # A retrain is never taken from a worker that may still run it: two would train at once.
    job = job_claim(jobs=RetrainJob.objects.all(), job_id=job_id, retrying=retrying, stale_after=None)
    if job is None:
        return RetrainJob.objects.filter(pk=job_id).first()
    try:
        model = router_train()
    except RouterTrainingError as exc:
        job.status, job.error = RetrainJob.Status.FAILED, f"Not retrained: {exc}"
    except DATABASE_DOWN:
        raise  # transient: the task retries the training
    except Exception as exc:
        log.exception("retrain job %s failed", job_id)
        job.status, job.error = RetrainJob.Status.FAILED, f"The retrain failed ({type(exc).__name__}); try again."
    else:
        job.status, job.version, job.summary = RetrainJob.Status.DONE, model.version, promotion_summary(model)
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "version", "summary", "finished_at"])
    return job
