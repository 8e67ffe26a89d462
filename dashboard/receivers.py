"""Listeners to other apps' signals."""

from __future__ import annotations

from typing import Any

from routing.monitoring.models import Alarm

from .alarms import alarm_json
from .models import WebhookEndpoint
from .tasks import batch_gate_check
from .webhooks import webhook_deliveries_create


def batch_gate_check_queue(*, batch_id: int, **_: Any) -> None:
    """Check the batch's gate once the write that may have changed it commits. Only the webhooks
    need the stored gate, and working it out costs a report, so without an active endpoint the
    check is skipped (its state catches up at the next change after one is added)."""
    if WebhookEndpoint.objects.filter(active=True).exists():
        batch_gate_check.delay_on_commit(batch_id)


def alarm_webhooks_create(*, alarm: Alarm, **_: Any) -> None:
    """A newly raised alarm (sent after its commit) to every endpoint subscribed to
    ``alarm.raised``, signed like the gate events; its body is ``alarm_json``."""
    webhook_deliveries_create(batch=None, event=WebhookEndpoint.Event.ALARM_RAISED, payload=alarm_json(alarm))
