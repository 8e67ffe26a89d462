"""Login throttling: django-axes in front of Django's model backend; the password reset page
limited per e-mail address and per client address."""

from __future__ import annotations

from math import ceil
from typing import Any

from axes.backends import AxesStandaloneBackend
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.views import PasswordResetView
from django.http import HttpRequest, HttpResponse

from .throttling import password_reset_wait

RESET_REFUSED = {
    "email": "Too many password reset requests for this address: try again in {minutes} min.",
    "ip": "Too many password reset requests from your network address: try again in {minutes} min.",
}


class LoginThrottleBackend(AxesStandaloneBackend):
    """Refuses a locked-out username/address pair before its password is checked.

    Every login from outside (the login page, the admin, DRF session logins) passes the request;
    only server-side code (the test client's ``login``, management commands) authenticates
    without one, and there is no remote address to throttle then, so the check is left to the
    next backend instead of raising."""

    def authenticate(  # type: ignore[override]
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class ThrottledPasswordResetView(PasswordResetView):
    """Django's password reset, limited per e-mail address and per client address: past either
    limit nothing is sent and the form comes back with a 429 that says when to try again. Every
    well-formed request counts, whether or not an account has that address (no way to tell)."""

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        refused = password_reset_wait(self.request, form.cleaned_data["email"])
        if refused is None:
            return super().form_valid(form)
        which, wait = refused
        form.add_error(None, RESET_REFUSED[which].format(minutes=max(1, ceil(wait / 60))))
        response = self.render_to_response(self.get_context_data(form=form), status=429)
        response["Retry-After"] = str(ceil(wait))
        return response
