"""Signing and verifying HybridQC webhook requests (HMAC-SHA256 over timestamp and body).

The header is ``X-HybridQC-Signature: t=<unix seconds>,v1=<hex digest>`` where the digest is
HMAC-SHA256 with the endpoint's secret over ``"<t>." + raw body``, as Stripe signs its events.
Signing the timestamp lets a receiver refuse replays of an old request. This module needs only
the standard library, so a receiver can copy it as is.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-HybridQC-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def webhook_signature(*, secret: str, body: bytes, timestamp: int) -> str:
    """The header value for a body sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def _parts(header: str) -> tuple[int, list[str]] | None:
    timestamp, digests = None, []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            digests.append(value)
    return (timestamp, digests) if timestamp is not None and digests else None


def webhook_signature_verify(
    *, secret: str, body: bytes, header: str, tolerance: int = DEFAULT_TOLERANCE_SECONDS, now: float | None = None
) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and its timestamp is within ``tolerance``
    seconds of ``now``. Compare against the raw body bytes, before any JSON parsing."""
    parts = _parts(header or "")
    if parts is None:
        return False
    timestamp, digests = parts
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = webhook_signature(secret=secret, body=body, timestamp=timestamp).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, d) for d in digests)
