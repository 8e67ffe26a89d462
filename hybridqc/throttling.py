"""DRF throttles whose rates come from settings at request time.

DRF's own classes copy ``DEFAULT_THROTTLE_RATES`` once, when they are imported, so a rate changed
later (a test, a reload) would never apply; these read the live API settings instead. Anonymous
requests are counted during authentication (``AnonymousThrottleAuthentication``). The counters
live in the default cache: Redis whenever one is configured, so every web worker counts the same
requests. ``password_reset_wait`` puts the same counters in front of a page (the password reset).
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.http import HttpRequest
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import (
    AnonRateThrottle,
    BaseThrottle,
    ScopedRateThrottle,
    SimpleRateThrottle,
    UserRateThrottle,
)


def _rate(throttle: SimpleRateThrottle) -> str | None:
    rate = api_settings.DEFAULT_THROTTLE_RATES.get(throttle.scope or "")
    return None if rate is None else str(rate)


class AnonThrottle(AnonRateThrottle):
    """Requests nobody authenticated, per client address. Counted by ``AnonymousThrottleAuthentication``
    (DRF checks permissions before throttles, and every API view refuses anonymous users, so a
    throttle class in ``DEFAULT_THROTTLE_CLASSES`` would never see one)."""

    def get_cache_key(self, request: Request, view: object) -> str:
        # Not AnonRateThrottle's: it reads request.user, which is being determined right now.
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def get_rate(self) -> str | None:
        return _rate(self)


class AnonymousThrottleAuthentication(BaseAuthentication):
    """Last in ``DEFAULT_AUTHENTICATION_CLASSES``: DRF asks it only when no earlier class
    authenticated the request, so it sees exactly the anonymous requests, before any permission
    answers. It authenticates nobody; past the ``anon`` rate it answers 429 with Retry-After."""

    def authenticate(self, request: Request) -> None:
        throttle = AnonThrottle()
        view: Any = (request.parser_context or {}).get("view")
        if not throttle.allow_request(request, view):
            raise Throttled(wait=throttle.wait())
        return None


class UserThrottle(UserRateThrottle):
    def get_rate(self) -> str | None:
        return _rate(self)


class ScopedThrottle(ScopedRateThrottle):
    """Applies only to views that set ``throttle_scope`` (e.g. minting tokens)."""

    def get_rate(self) -> str | None:
        return _rate(self)


class TokenFailureThrottle(SimpleRateThrottle):
    """Refused tokens per client address. DRF checks permissions before throttles, so a request
    whose token is refused never reaches the throttles above; the token authentication counts
    its failures here instead (successful requests are not counted)."""

    scope = "token-failure"

    def get_cache_key(self, request: Request, view: object) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def get_rate(self) -> str | None:
        return _rate(self)


class PasswordResetThrottle(SimpleRateThrottle):
    """Password-reset requests under one identity: an e-mail address (``password-reset-email``) or
    a client address (``password-reset-ip``). Each request mails a person, so the page is limited
    like the API, with DRF's rates and window over the same cache."""

    def __init__(self, scope: str, ident: str) -> None:
        self.scope, self.ident = scope, ident
        super().__init__()

    def get_cache_key(self, request: Any, view: object) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.ident}

    def get_rate(self) -> str | None:
        return _rate(self)


def password_reset_wait(request: HttpRequest, email: str) -> tuple[str, float] | None:
    """None when a reset mail to ``email`` may be sent now (and it is counted); else which limit
    refused it (``email`` or ``ip``) and the seconds until the oldest counted request expires.
    The address is hashed: the cache holds no e-mail address."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    drf_request = Request(request)  # DRF's client address rule (NUM_PROXIES) reads it
    throttles = {"ip": PasswordResetThrottle("password-reset-ip", BaseThrottle().get_ident(drf_request)),
                 "email": PasswordResetThrottle("password-reset-email", digest)}
    for which, throttle in throttles.items():
        # No view: the cache key is the identity alone.
        if not throttle.allow_request(drf_request, None):  # type: ignore[arg-type]
            return which, throttle.wait() or 0.0
    return None
