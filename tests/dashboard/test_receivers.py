"""The gate check a label submit queues: only while a webhook endpoint is active, decided by the
statement ``exists()`` runs, compiled once per process."""

import pytest

from dashboard.models import WebhookEndpoint
from dashboard.receivers import _endpoint_active_sql, batch_gate_check_queue, webhook_endpoint_active

pytestmark = pytest.mark.django_db


def test_endpoint_active_sql_is_the_exists_statement() -> None:
    sql, params = _endpoint_active_sql("postgresql")

    assert sql == 'SELECT %s AS "a" FROM "dashboard_webhookendpoint" WHERE "dashboard_webhookendpoint"."active" LIMIT 1'
    assert params == (1,)


def test_webhook_endpoint_active_counts_only_active_endpoints() -> None:
    assert webhook_endpoint_active() is False
    endpoint = WebhookEndpoint.objects.create(url="https://example.org/hook", active=False, events=["gate.opened"])
    assert webhook_endpoint_active() is False
    endpoint.active = True
    endpoint.save()
    assert webhook_endpoint_active() is True


def test_gate_check_is_queued_on_commit_only_with_an_active_endpoint(django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks() as none_active:
        batch_gate_check_queue(batch_id=1)
    WebhookEndpoint.objects.create(url="https://example.org/hook", events=["gate.opened"])
    with django_capture_on_commit_callbacks() as one_active:
        batch_gate_check_queue(batch_id=1)

    assert (len(none_active), len(one_active)) == (0, 1)
