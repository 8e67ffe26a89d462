"""Release leads: every running and recent long job (imports, judge runs, routings, retrains, exports)
with its status, progress, the reason when it failed and its Retry."""

from __future__ import annotations

from django.http import HttpResponse

from hybridqc.http import HtmxHttpRequest, render_htmx
from hybridqc.roles import lead_required
from routing.training.selectors import QUEUED, RUNNING, jobs_recent

from .selectors import export_job_rows


@lead_required
def jobs_page(request: HtmxHttpRequest) -> HttpResponse:
    """The jobs list; while any job runs, the table polls itself (?part=table)."""
    jobs = jobs_recent(others=export_job_rows(50))
    ctx = {"jobs": jobs, "running": any(j.status in (QUEUED, RUNNING) for j in jobs)}
    return render_htmx(request, "dashboard/jobs.html", "table" if request.GET.get("part") == "table" else None, ctx)
