"""Listeners to other apps' signals."""

from __future__ import annotations

import functools
from typing import Any

from django.db import connection

from routing.monitoring.models import Alarm

from .alarms import alarm_json
from .models import WebhookEndpoint
from .tasks import batch_gate_check
from .webhooks import webhook_deliveries_create


@functools.cache
def _endpoint_active_sql(vendor: str) -> tuple[str, tuple[Any, ...]]:
    """``WebhookEndpoint.objects.filter(active=True).exists()``'s statement, compiled once per
    process (per backend): it runs on every label submit, where building the queryset cost
    several times what the statement does."""
    sql, params = WebhookEndpoint.objects.filter(active=True).query.exists().sql_with_params()
    return sql, tuple(params)


def webhook_endpoint_active() -> bool:
    """Whether any webhook endpoint is active (the same statement ``exists()`` runs)."""
    sql, params = _endpoint_active_sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None


def batch_gate_check_queue(*, batch_id: int, **_: Any) -> None:
    """Check the batch's gate once the write that may have changed it commits. Only the webhooks
    need the stored gate, and working it out costs a report, so without an active endpoint the
    check is skipped (its state catches up at the next change after one is added)."""
    if webhook_endpoint_active():
        batch_gate_check.delay_on_commit(batch_id)


def alarm_webhooks_create(*, alarm: Alarm, **_: Any) -> None:
    """A newly raised alarm (sent after its commit) to every endpoint subscribed to
    ``alarm.raised``, signed like the gate events; its body is ``alarm_json``."""
    webhook_deliveries_create(batch=None, event=WebhookEndpoint.Event.ALARM_RAISED, payload=alarm_json(alarm))
