"""What a page says when the task queue cannot be reached at enqueue time, and how a task meets a
database that cannot be reached for a moment."""

from __future__ import annotations

from typing import Any

import psycopg
from django.conf import settings
from django.db import InterfaceError
from django.db import OperationalError as DatabaseOperationalError
from kombu.exceptions import OperationalError

# Raised by .delay()/.delay_on_commit() when the broker refuses the connection.
BROKER_DOWN = (OperationalError,)


def enqueue_failed_message(what: str) -> str:
    minutes = max(1, int(getattr(settings, "SWEEP_STALE_SECONDS", 900)) // 60)
    return (f"{what} was saved, but the task queue is unreachable, so the work has not started. "
            f"It is picked up automatically within about {minutes} minutes once the queue is back, "
            f"or use Retry.")


# The database unreachable for a moment (restarted, failed over, a dropped connection): a task that
# meets it is retried with backoff instead of failing its run or batch. Celery's Django fix-up
# closes the broken connection when the task ends, so the retry connects afresh. psycopg's own
# classes too: the COPY import path (routing/ingest/ingest_copy.py) runs on psycopg's cursor, whose
# errors Django does not wrap.
DATABASE_DOWN = (DatabaseOperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)
DATABASE_RETRY: dict[str, Any] = {"autoretry_for": DATABASE_DOWN, "retry_backoff": 1, "retry_backoff_max": 30,
                                  "retry_jitter": False, "max_retries": 10}
