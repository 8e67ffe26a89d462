"""Personal API tokens: create (shown once), revoke, list, and authenticate a presented token."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import ApiToken

PREFIX_TAG = "hqc_"
# Renewing last_used on every request would write a row per API call; once a minute is enough
# to tell a live token from a forgotten one.
LAST_USED_RESOLUTION = timedelta(seconds=60)


class ApiTokenRefused(Exception):
    """A presented token that does not authenticate; the message says why and is safe to show."""


class ApiTokenInvalid(ValueError):
    """A token that cannot be created as asked; ``field`` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # the full token: returned once, never stored


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _expiry(expires_in_days: int | None) -> datetime | None:
    """None asks for the longest life allowed: API_TOKEN_MAX_DAYS, or no end when that is 0."""
    limit = settings.API_TOKEN_MAX_DAYS
    if expires_in_days is None:
        expires_in_days = limit or None
        if expires_in_days is None:
            return None
    if expires_in_days < 1 or (limit and expires_in_days > limit):
        bound = f"between 1 and {limit}" if limit else "at least 1"
        raise ApiTokenInvalid("expires_in_days", f"expires_in_days must be {bound}.")
    return timezone.now() + timedelta(days=expires_in_days)


def api_token_create(*, user: Any, name: str, expires_in_days: int | None = None) -> NewToken:
    """A new token for ``user``; the returned secret is the only copy of it."""
    name = name.strip()
    if not name:
        raise ApiTokenInvalid("name", "Give the token a name (what uses it).")
    expires_at = _expiry(expires_in_days)
    prefix = secrets.token_hex(6)
    raw = f"{PREFIX_TAG}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(user=user, name=name[:100], prefix=prefix, token_hash=_hash(raw),
                                    expires_at=expires_at)
    return NewToken(token=token, secret=raw)


def api_token_revoke(*, user: Any, token_id: int) -> ApiToken | None:
    """Revoke one of ``user``'s own tokens (idempotent); None when they have no such token."""
    token = ApiToken.objects.filter(pk=token_id, user=user).first()
    if token is None:
        return None
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db()
    return token


def api_tokens_of(user: Any) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)


def _lookup(raw: str) -> ApiToken:
    tag, _, rest = raw.partition(PREFIX_TAG)
    prefix = rest.split("_", 1)[0]
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first() if not tag and prefix else None
    if token is None or not hmac.compare_digest(token.token_hash, _hash(raw)):
        raise ApiTokenRefused("Invalid token.")
    return token


def api_token_authenticate(*, raw: str) -> ApiToken:
    """The token ``raw`` stands for, if it may be used now; refused if unknown, revoked, expired
    or its user is inactive. Records when it was last used."""
    token = _lookup(raw)
    now = timezone.now()
    state = token.state(now)
    if state != "active":
        raise ApiTokenRefused(f"Token {state}.")
    if not token.user.is_active:
        raise ApiTokenRefused("User inactive or deleted.")
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ApiToken.objects.filter(stale, pk=token.pk).update(last_used_at=now)
    return token
