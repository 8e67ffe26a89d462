"""What a page says when the task queue cannot be reached at enqueue time."""

from __future__ import annotations

from django.conf import settings
from kombu.exceptions import OperationalError

# Raised by .delay()/.delay_on_commit() when the broker refuses the connection.
BROKER_DOWN = (OperationalError,)


def enqueue_failed_message(what: str) -> str:
    minutes = max(1, int(getattr(settings, "SWEEP_STALE_SECONDS", 900)) // 60)
    return (f"{what} was saved, but the task queue is unreachable, so the work has not started. "
            f"It is picked up automatically within about {minutes} minutes once the queue is back, "
            f"or use Retry.")
