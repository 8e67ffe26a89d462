"""The token page: a signed-in user creates, lists and revokes their own personal API tokens."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from hybridqc.http import HtmxHttpRequest
from hybridqc.roles import any_role_required

from .forms import ApiTokenForm
from .tokens import ApiTokenInvalid, api_token_create, api_token_revoke, api_tokens_of

TEMPLATE = "dashboard/tokens.html"


def _render(request: HtmxHttpRequest, form: ApiTokenForm, status: int = 200, secret: str = "") -> HttpResponse:
    context = {"form": form, "tokens": api_tokens_of(request.user), "secret": secret}
    return render(request, f"{TEMPLATE}#tokens" if request.htmx else TEMPLATE, context, status=status)


@any_role_required
@require_http_methods(["GET", "POST"])
def token_page(request: HtmxHttpRequest) -> HttpResponse:
    """Any role: your tokens; POST creates one and shows it this once (no redirect: a reload
    must not show it again, and it is never stored)."""
    if request.method != "POST":
        return _render(request, ApiTokenForm())
    form = ApiTokenForm(request.POST)
    if not form.is_valid():
        return _render(request, form, status=422)
    try:
        new = api_token_create(user=request.user, name=form.cleaned_data["name"],
                               expires_in_days=form.cleaned_data["expires_in_days"])
    except ApiTokenInvalid as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return _render(request, form, status=422)
    return _render(request, ApiTokenForm(), status=201, secret=new.secret)


@any_role_required
@require_POST
def token_revoke(request: HtmxHttpRequest, token_id: int) -> HttpResponse:
    """Any role: revoke one of your own tokens (someone else's is 404)."""
    if api_token_revoke(user=request.user, token_id=token_id) is None:
        raise Http404("No such token.")
    if request.htmx:
        return _render(request, ApiTokenForm())
    return redirect("tokens:page")
