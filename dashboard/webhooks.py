"""Signed webhooks: which endpoints hear an event, and one delivery attempt of it.

A delivery's body is fixed when the event happens; every attempt signs it anew with the current
time (``hybridqc.webhook_signature``). Receivers may see an event more than once (a worker that
dies after sending and before recording it sends it again): ``X-HybridQC-Delivery`` is the same on
every attempt of one delivery, so they can drop repeats.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from hybridqc.webhook_signature import HEADER, webhook_signature
from routing.batches.models import Batch
from routing.judging.guards import PolicyRefused, base_url_check, endpoint_policy

from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

URL_FIELD = "The webhook URL (url)"
EVENTS = {str(e) for e in WebhookEndpoint.Event}
# Answers worth another try later: the receiver is busy or failing, not refusing this request.
TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


WEBHOOK_DELIVER_TASK = "dashboard.tasks.webhook_deliver"


def webhook_endpoint_check(*, url: str, events: Any) -> None:
    """Refuse a URL judge base URLs could not use (scheme, host allowlist, private addresses)
    and events that do not exist; raises ValidationError naming the field."""
    errors: dict[str, str] = {}
    try:
        base_url_check(url, endpoint_policy(), URL_FIELD)
    except PolicyRefused as exc:
        errors["url"] = str(exc)
    if not isinstance(events, list) or not events or not set(map(str, events)) <= EVENTS:
        errors["events"] = f"events must be a non-empty list of: {', '.join(sorted(EVENTS))}."
    if errors:
        raise ValidationError(errors)


def webhook_deliveries_create(*, batch: Batch | None, event: str, payload: dict[str, Any]) -> list[WebhookDelivery]:
    """One pending delivery per active endpoint subscribed to ``event``; each is sent by a task
    once the caller's transaction commits."""
    body = json.dumps(payload, sort_keys=True)
    endpoints = [e for e in WebhookEndpoint.objects.filter(active=True) if event in (e.events or [])]
    deliveries = [WebhookDelivery.objects.create(endpoint=e, batch=batch, event=event, body=body) for e in endpoints]
    # The task by its registered name: the task module calls this module's services, so importing
    # it here would make the two import each other.
    deliver = current_app.tasks[WEBHOOK_DELIVER_TASK]
    for delivery in deliveries:
        deliver.delay_on_commit(delivery.pk)
    return deliveries


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str
    transient: bool

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _send(delivery: WebhookDelivery) -> Outcome:
    endpoint = delivery.endpoint
    if not endpoint.active:
        return Outcome(None, "endpoint deactivated", transient=False)
    try:
        # Again before each request: what the name resolves to may have changed since it was saved.
        base_url_check(endpoint.url, endpoint_policy(), URL_FIELD)
    except PolicyRefused as exc:
        return Outcome(None, str(exc)[:300], transient=False)
    body = delivery.body.encode()
    headers = {"Content-Type": "application/json", "User-Agent": "HybridQC-Webhook/1",
               HEADER: webhook_signature(secret=endpoint.secret, body=body, timestamp=int(time.time())),
               "X-HybridQC-Event": delivery.event, "X-HybridQC-Delivery": str(delivery.pk)}
    try:
        reply = httpx.post(endpoint.url, content=body, headers=headers, follow_redirects=False,
                           timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
    except httpx.TransportError as exc:
        return Outcome(None, f"{type(exc).__name__}: no answer", transient=True)
    code = reply.status_code
    if 300 <= code < 400:
        return Outcome(code, "redirect (3xx) not followed", transient=False)
    return Outcome(code, "" if 200 <= code < 300 else f"HTTP {code}", transient=code in TRANSIENT_STATUS)


def webhook_retry_delay(attempt: int) -> float:
    """Seconds before the attempt after ``attempt``: doubling from the base, at most an hour."""
    return float(min(3600.0, settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempt - 1)))


def webhook_delivery_attempt(*, delivery_id: int, may_retry: bool = True) -> float | None:
    """Send a pending delivery once and record the attempt. Returns the delay before a retry when
    the failure was transient and attempts remain (and ``may_retry``), else None (delivered,
    failed, or not pending)."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
        return None
    number = delivery.attempts + 1
    # Claims this attempt number: a redelivered task that lost the race does nothing.
    if not WebhookDelivery.objects.filter(pk=delivery.pk, status=WebhookDelivery.Status.PENDING,
                                          attempts=delivery.attempts).update(attempts=number):
        return None
    outcome = _send(delivery)
    retry = may_retry and outcome.transient and number < settings.WEBHOOK_MAX_ATTEMPTS
    with transaction.atomic():
        WebhookAttempt.objects.create(delivery=delivery, number=number, status_code=outcome.status_code,
                                      error=outcome.error, transient=outcome.transient)
        if outcome.ok or not retry:
            final = WebhookDelivery.Status.DELIVERED if outcome.ok else WebhookDelivery.Status.FAILED
            WebhookDelivery.objects.filter(pk=delivery.pk, status=WebhookDelivery.Status.PENDING).update(
                status=final, finished_at=timezone.now())
    return webhook_retry_delay(number) if retry and not outcome.ok else None
