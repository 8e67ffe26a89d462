"""The release gate of a batch for scripts (API, ``release_gate``) and its change notifications.

The rule itself is ``selectors.release_gate`` on ``selectors.batch_report``: the same figures the
control center shows. Here it is only named for one batch and remembered per batch, so a change
of the gate is announced once however many workers look at it.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from routing.batches.models import Batch

from .models import BatchGateState, WebhookEndpoint
from .selectors import batch_report, release_gate
from .webhooks import webhook_deliveries_create


def batch_gate(batch: Batch) -> dict[str, Any]:
    """``{"batch", "release", "reasons", "target"}`` from the batch's stored rows."""
    gate = release_gate(batch_report(batch), 1 - batch.alpha)
    return {"batch": batch.name, "release": gate["passed"], "reasons": gate["reasons"], "target": gate["target"]}


def batch_gate_state_refresh(*, batch: Batch) -> str | None:
    """Store the batch's gate; when it opened or closed since it was last stored, queue the event
    for every subscribed webhook endpoint and return its name (else None).

    A batch starts closed (nothing routed yet), so a first look that finds it open is a change.
    The gate is worked out while holding the stored state's row lock: two checks of one batch run
    one after the other, and the later one reads the later rows, so an older reading can never
    overwrite a newer one (nor announce a change back)."""
    with transaction.atomic():
        BatchGateState.objects.get_or_create(batch=batch)
        BatchGateState.objects.select_for_update().filter(batch=batch).first()
        gate = batch_gate(batch)
        now = timezone.now()
        changed = (
            BatchGateState.objects.filter(batch=batch)
            .exclude(release=gate["release"])
            .update(release=gate["release"], reasons=gate["reasons"], changed_at=now)
        )
        if not changed:
            BatchGateState.objects.filter(batch=batch).update(reasons=gate["reasons"])
            return None
        event = WebhookEndpoint.Event.GATE_OPENED if gate["release"] else WebhookEndpoint.Event.GATE_CLOSED
        payload = {"event": str(event), "batch": batch.name, "batch_id": batch.pk, "release": gate["release"],
                   "reasons": gate["reasons"], "target": gate["target"], "changed_at": now.isoformat()}
        webhook_deliveries_create(batch=batch, event=str(event), payload=payload)
    return str(event)
