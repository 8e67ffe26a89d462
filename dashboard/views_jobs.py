"""Release leads: every running and recent long job (imports, judge runs, routings, retrains, exports)
with its status, progress, the reason when it failed and its Retry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpResponse
from django.shortcuts import redirect

from hybridqc.http import HtmxHttpRequest, render_htmx
from hybridqc.roles import lead_required
from routing.batches.models import Job
from routing.training.selectors import QUEUED, RUNNING, jobs_recent

from .selectors import export_job_rows


@lead_required
def jobs_page(request: HtmxHttpRequest) -> HttpResponse:
    """The jobs list; while any job runs, the table polls itself (?part=table)."""
    jobs = jobs_recent(others=export_job_rows(50))
    ctx = {"jobs": jobs, "running": any(j.status in (QUEUED, RUNNING) for j in jobs)}
    return render_htmx(request, "dashboard/jobs.html", "table" if request.GET.get("part") == "table" else None, ctx)


def job_retry_answer[J: Job](request: HtmxHttpRequest, job: J, *, retry: Callable[..., bool], task: Any, page: str,
                             block: Callable[[J, int, bool], HttpResponse]) -> HttpResponse:
    """The Retry of a background job: ``retry`` queues it again if it had failed, and ``task`` runs
    it once the transaction commits. Without htmx, back to its ``page``; with htmx, its ``block``
    (job, status, refused) as it is now: 202 when queued again, 409 when it had not failed."""
    retried = retry(job=job)
    if retried:
        task.delay_on_commit(job.pk)
    if not request.htmx:
        return redirect(page, job_id=job.pk)
    job.refresh_from_db()
    return block(job, 202 if retried else 409, not retried)
