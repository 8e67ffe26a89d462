"""Admin and lead pages of the reviewer side: roster (CSV in/out), unstaffed tasks, agreement,
notifications, and marking gold items."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from hybridqc.confirm import TOKEN_FIELD, confirm_step
from hybridqc.roles import admin_required, lead_required
from routing.batches.models import Batch

from .forms import GoldBatchForm, RosterImportForm, form_errors
from .models import Notification
from .selectors import (
    agreement_by_domain,
    credentials_expiring,
    notifications_open,
    roster,
    unstaffed_by_domain,
    unstaffed_tasks,
)
from .services import (
    ReviewError,
    RosterCsvError,
    roster_csv_export,
    roster_csv_import,
    unstaffed_restaff,
)
from .services.gold_preview import batch_gold_confirmed, batch_gold_preview
from .services.invitations import SiteLink


def _roster_page(request: HttpRequest, form: RosterImportForm, status: int = 200, error: str = "",
                 problems: list[tuple[int, str, str]] | None = None) -> HttpResponse:
    """The roster page, or (htmx) only its import form with the refusal and its table of problems."""
    if status != 200 and getattr(request, "htmx", False):
        context = {"form": form, "error": error, "problems": problems or []}
        return render(request, "reviewers/roster.html#import", context, status=status)
    unstaffed_rows = unstaffed_by_domain()
    return render(
        request,
        "reviewers/roster.html",
        {
            "form": form,
            "error": error,
            "problems": problems or [],
            "reviewers": roster(),
            "expiring": credentials_expiring(30),
            "notifications": notifications_open(),
            "agreement": agreement_by_domain(),
            "unstaffed_count": sum(row["n"] for row in unstaffed_rows),
        },
        status=status,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def roster_page(request: HttpRequest) -> HttpResponse:
    """The roster with credentials, expiring credentials, notifications, agreement; CSV import."""
    if request.method == "GET":
        return _roster_page(request, RosterImportForm())
    form = RosterImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _roster_page(request, form, 422, form_errors(form))
    try:
        text = form.cleaned_data["file"].read().decode("utf-8-sig")
        site = SiteLink(domain=request.get_host(), https=request.is_secure())
        n = roster_csv_import(text=text, verified_by=cast(User, request.user), site=site)
    except UnicodeDecodeError:
        return _roster_page(request, form, 422, "The file is not UTF-8 text.")
    except RosterCsvError as exc:
        return _roster_page(request, form, 422, "Nothing was imported: fix these and import the file again.",
                            exc.problems)
    except ReviewError as exc:
        return _roster_page(request, form, 422, exc.message)
    messages.success(request, f"Imported {n} credential {'row' if n == 1 else 'rows'}.")
    if getattr(request, "htmx", False):  # the whole page again: the roster and notices changed
        return HttpResponseClientRedirect(reverse("reviewers:roster"))
    return redirect("reviewers:roster")


@admin_required
@require_GET
def roster_export(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(roster_csv_export(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, "roster.csv")
    return response


@admin_required
@require_POST
def notification_resolve(request: HttpRequest, notification_id: int) -> HttpResponse:
    if not Notification.objects.filter(pk=notification_id, resolved_at__isnull=True).update(resolved_at=timezone.now()):
        raise Http404("No such open notification.")
    return redirect("reviewers:roster")


@admin_required
@require_http_methods(["GET", "POST"])
def unstaffed(request: HttpRequest) -> HttpResponse:
    """Tasks nobody is credentialed for; POST matches them again (after credentials changed)."""
    if request.method == "POST":
        n = unstaffed_restaff()
        messages.success(request, f"{n} unstaffed tasks now have a reviewer.")
        return redirect("reviewers:unstaffed")
    return render(
        request,
        "reviewers/unstaffed.html",
        {
            "tasks": unstaffed_tasks(),
            "by_domain": unstaffed_by_domain(),
        },
    )


@lead_required
@require_POST
def gold_mark_batch(request: HttpRequest) -> HttpResponse:
    """Lead action: mark a batch's examples whose human labels agree as gold items."""
    form = GoldBatchForm(request.POST)
    if not form.is_valid():
        return HttpResponse(form_errors(form), status=400, content_type="text/plain")
    batch = Batch.objects.filter(name=form.cleaned_data["batch"]).first()
    if batch is None:
        return HttpResponse("No batch with that name.", status=404, content_type="text/plain")
    nxt = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}) and nxt.startswith("/")
    nxt = nxt if safe else ""
    return confirm_step(request, preview=lambda error, status: _gold_step(request, batch, nxt, error, status),
                        confirm=lambda token: batch_gold_confirmed(batch=batch, token=token),
                        done=lambda n: _gold_done(request, batch, nxt, n))


def _gold_step(request: HttpRequest, batch: Batch, nxt: str, error: str, status: int) -> HttpResponse:
    ctx = {"preview": batch_gold_preview(batch=batch), "next": nxt, "error": error, "token_field": TOKEN_FIELD}
    return render(request, "reviewers/gold_confirm.html", ctx, status=status)


def _gold_done(request: HttpRequest, batch: Batch, nxt: str, n: int) -> HttpResponse:
    messages.success(request, f"{n} examples of {batch.name} are now gold items.")
    return redirect(nxt or "home")
