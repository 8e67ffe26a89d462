"""Signed webhooks on release-gate changes, against a real HTTP receiver (a thread of this process)."""

import hashlib
import hmac
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from dashboard.gate import batch_gate_state_refresh
from dashboard.models import BatchGateState, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from dashboard.webhooks import webhook_delivery_attempt, webhook_endpoint_check, webhook_retry_delay
from hybridqc.webhook_signature import webhook_signature, webhook_signature_verify

SECRET = "whsec_test"


def test_webhook_signature_is_hmac_sha256_over_timestamp_dot_body():
    body = b'{"event": "gate.opened"}'
    expected = hmac.new(b"whsec_test", b'1700000000.{"event": "gate.opened"}', hashlib.sha256).hexdigest()
    assert webhook_signature(secret=SECRET, body=body, timestamp=1700000000) == f"t=1700000000,v1={expected}"


@pytest.mark.parametrize(
    ("secret", "body", "now", "ok"),
    [(SECRET, b"{}", 1700000100, True), ("other", b"{}", 1700000100, False),
     (SECRET, b"{ }", 1700000100, False), (SECRET, b"{}", 1700000301, False)],
    ids=["valid", "wrong-secret", "tampered-body", "too-old"],
)
def test_webhook_signature_verify_refuses_wrong_secret_tampering_and_replays(secret, body, now, ok):
    header = webhook_signature(secret=SECRET, body=b"{}", timestamp=1700000000)
    assert webhook_signature_verify(secret=secret, body=body, header=header, now=now) is ok


@pytest.mark.parametrize("header", ["", "t=abc,v1=00", "v1=00", "t=1700000000"])
def test_webhook_signature_verify_refuses_malformed_headers(header):
    assert webhook_signature_verify(secret=SECRET, body=b"{}", header=header, now=1700000000) is False


@pytest.fixture
def gated(tied_batch):
    return tied_batch("hooked", 2)


def _endpoint(url, events=("gate.opened", "gate.closed")):
    return WebhookEndpoint.objects.create(url=url, secret=SECRET, events=list(events))


def test_webhook_gate_change_is_announced_once(gated, label_all, webhook_receiver):
    _endpoint(webhook_receiver.url)
    assert batch_gate_state_refresh(batch=gated) is None  # starts closed, still closed
    assert BatchGateState.objects.get().reasons == ["2 human tasks open"]
    label_all()
    assert batch_gate_state_refresh(batch=gated) == "gate.opened"
    assert batch_gate_state_refresh(batch=gated) is None
    delivery = WebhookDelivery.objects.get()
    payload = json.loads(delivery.body)
    assert (delivery.event, payload["release"], payload["reasons"], payload["batch"]) == (
        "gate.opened", True, [], "hooked")


def _refresh_in_thread(batch):
    try:
        return batch_gate_state_refresh(batch=batch)
    finally:
        connection.close()


def test_webhook_concurrent_gate_checks_announce_a_change_once(transactional_db, tied_batch, label_all,
                                                               webhook_receiver):
    batch = tied_batch("raced", 2)
    _endpoint(webhook_receiver.url)
    label_all()
    with ThreadPoolExecutor(max_workers=4) as pool:
        events = list(pool.map(_refresh_in_thread, [batch] * 4))
    assert Counter(events) == {"gate.opened": 1, None: 3}
    assert WebhookDelivery.objects.count() == 1


def test_webhook_only_subscribed_active_endpoints_get_the_event(gated, label_all, webhook_receiver):
    _endpoint(webhook_receiver.url, events=["gate.closed"])
    inactive = _endpoint(webhook_receiver.url)
    WebhookEndpoint.objects.filter(pk=inactive.pk).update(active=False)
    label_all()
    assert batch_gate_state_refresh(batch=gated) == "gate.opened"
    assert WebhookDelivery.objects.count() == 0


def _delivery(gated, label_all, receiver):
    _endpoint(receiver.url)
    label_all()
    batch_gate_state_refresh(batch=gated)
    return WebhookDelivery.objects.get()


def test_webhook_delivery_is_signed_and_recorded(gated, label_all, webhook_receiver):
    delivery = _delivery(gated, label_all, webhook_receiver)
    assert webhook_delivery_attempt(delivery_id=delivery.pk) is None
    [got] = webhook_receiver.requests
    assert webhook_signature_verify(secret=SECRET, body=got.body, header=got.headers["X-HybridQC-Signature"])
    assert (got.headers["X-HybridQC-Event"], got.headers["X-HybridQC-Delivery"]) == ("gate.opened", str(delivery.pk))
    assert got.body.decode() == delivery.body
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    assert list(WebhookAttempt.objects.values_list("number", "status_code", "transient")) == [(1, 200, False)]
    assert webhook_delivery_attempt(delivery_id=delivery.pk) is None  # redelivered task: nothing sent
    assert len(webhook_receiver.requests) == 1


def test_webhook_transient_failure_is_retried_with_backoff(gated, label_all, webhook_receiver, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30.0
    webhook_receiver.script[:] = [503, 429]
    delivery = _delivery(gated, label_all, webhook_receiver)
    assert [webhook_delivery_attempt(delivery_id=delivery.pk) for _ in range(3)] == [30.0, 60.0, None]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert list(WebhookAttempt.objects.values_list("status_code", "transient")) == [
        (503, True), (429, True), (200, False)]
    assert all(webhook_signature_verify(secret=SECRET, body=r.body, header=r.headers["X-HybridQC-Signature"])
               for r in webhook_receiver.requests)


def test_webhook_retries_stop_at_the_attempt_limit(gated, label_all, webhook_receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    webhook_receiver.script[:] = [500, 500, 500]
    delivery = _delivery(gated, label_all, webhook_receiver)
    assert [webhook_delivery_attempt(delivery_id=delivery.pk) for _ in range(3)] == [30.0, None, None]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, len(webhook_receiver.requests)) == ("failed", 2, 2)


@pytest.mark.parametrize(("code", "error"), [(400, "HTTP 400"), (302, "redirect (3xx) not followed")])
def test_webhook_refusals_and_redirects_fail_without_retry(gated, label_all, webhook_receiver, code, error):
    webhook_receiver.script[:] = [code]
    delivery = _delivery(gated, label_all, webhook_receiver)
    assert webhook_delivery_attempt(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert (delivery.status, len(webhook_receiver.requests)) == ("failed", 1)
    assert list(WebhookAttempt.objects.values_list("status_code", "error", "transient")) == [(code, error, False)]


def test_webhook_unreachable_receiver_is_transient(gated, label_all, webhook_receiver):
    delivery = _delivery(gated, label_all, webhook_receiver)
    WebhookEndpoint.objects.update(url="http://127.0.0.1:9/hook/")  # discard port: nothing listens
    assert webhook_delivery_attempt(delivery_id=delivery.pk) == 30.0
    attempt = WebhookAttempt.objects.get()
    assert (attempt.status_code, attempt.error, attempt.transient) == (None, "ConnectError: no answer", True)


def test_webhook_without_retries_a_transient_failure_is_final(gated, label_all, webhook_receiver):
    webhook_receiver.script[:] = [503]
    delivery = _delivery(gated, label_all, webhook_receiver)
    assert webhook_delivery_attempt(delivery_id=delivery.pk, may_retry=False) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, len(webhook_receiver.requests)) == ("failed", 1, 1)


def test_webhook_deactivated_endpoint_gets_no_more_attempts(gated, label_all, webhook_receiver):
    delivery = _delivery(gated, label_all, webhook_receiver)
    WebhookEndpoint.objects.update(active=False)
    assert webhook_delivery_attempt(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert (delivery.status, webhook_receiver.requests) == ("failed", [])
    assert WebhookAttempt.objects.get().error == "endpoint deactivated"


def test_webhook_retry_delay_doubles_up_to_an_hour(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30.0
    assert [webhook_retry_delay(n) for n in (1, 2, 3, 8, 20)] == [30.0, 60.0, 120.0, 3600.0, 3600.0]


@pytest.mark.parametrize(
    ("url", "events", "errors"),
    [
        ("http://127.0.0.1:8080/hook", ["gate.opened"], {"url": [
            "The webhook URL (url) host 127.0.0.1 is not a public address: 127.0.0.1 is loopback; "
            "set JUDGE_ALLOW_PRIVATE_HOSTS=1 to allow self-hosted judges."]}),
        ("ftp://example.com/", ["gate.opened"], {"url": ["The webhook URL (url) must use http or https, not 'ftp'."]}),
        ("http://93.184.216.34/", ["gate.reopened"], {"events": [
            "events must be a non-empty list of: alarm.raised, gate.closed, gate.opened."]}),
    ],
    ids=["loopback", "scheme", "event"],
)
def test_webhook_endpoint_check_refuses_like_judge_urls(settings, url, events, errors):
    settings.JUDGE_ALLOW_PRIVATE_HOSTS = False
    with pytest.raises(ValidationError) as refused:
        webhook_endpoint_check(url=url, events=events)
    assert refused.value.message_dict == errors


def test_webhook_delivery_rechecks_the_url_before_sending(gated, label_all, webhook_receiver, settings):
    delivery = _delivery(gated, label_all, webhook_receiver)
    settings.JUDGE_ALLOW_PRIVATE_HOSTS = False
    assert webhook_delivery_attempt(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert (delivery.status, webhook_receiver.requests) == ("failed", [])
    assert WebhookAttempt.objects.get().error.startswith("The webhook URL (url) host 127.0.0.1 is not a public")
