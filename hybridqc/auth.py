"""Login throttling: django-axes in front of Django's model backend."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


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
