from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from hybridqc.roles import is_admin, is_lead, is_reviewer, lead_required

from .selectors import batches_report


def home(request: HttpRequest) -> HttpResponse:
    """Send each role to its place: leads to the control center, reviewers to their queue."""
    user = request.user
    if not user.is_authenticated:
        return redirect("login")
    if is_lead(user) or is_admin(user):
        return redirect("dashboard:control")
    if is_reviewer(user):
        return redirect("reviewers:queue")
    return render(request, "no_role.html", status=403)


@lead_required
def control_center(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/control.html", {"reports": batches_report()})
