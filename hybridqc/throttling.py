"""DRF throttles whose rates come from settings at request time.

DRF's own classes copy ``DEFAULT_THROTTLE_RATES`` once, when they are imported, so a rate changed
later (a test, a reload) would never apply; these read the live API settings instead. The counters
live in the default cache: Redis whenever one is configured, so every web worker counts the same
requests.
"""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle, SimpleRateThrottle, UserRateThrottle


def _rate(throttle: SimpleRateThrottle) -> str | None:
    rate = api_settings.DEFAULT_THROTTLE_RATES.get(throttle.scope or "")
    return None if rate is None else str(rate)


class AnonThrottle(AnonRateThrottle):
    def get_rate(self) -> str | None:
        return _rate(self)


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
