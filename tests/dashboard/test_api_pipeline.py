"""A training pipeline drives a batch through the API with tokens only (no session), over real HTTP:
import -> routing by a real Celery worker -> gate 409 -> a reviewer's labels -> gate 200, and the
signed gate.opened webhook arrives at a real receiver."""

import json

import httpx
import pytest

from dashboard.models import WebhookEndpoint
from dashboard.tokens import api_token_create
from hybridqc.webhook_signature import webhook_signature_verify
from tests import factories
from tests.conftest import wait_until

# LLMBar items whose recorded judges disagree: at a confidence threshold of 1 every one goes to a
# human, so the gate waits for exactly their labels (no judge-kept item needs an audit bound).
N_ITEMS = 4


def _disputed_lines():
    lines = [ln for ln in factories.data_lines("llmbar.jsonl")
             if len({j["choice"] for j in json.loads(ln)["judgments"]}) > 1]
    return "\n".join(lines[:N_ITEMS]) + "\n"


def _bearer(user):
    return {"Authorization": f"Bearer {api_token_create(user=user, name='pipeline', expires_in_days=1).secret}"}


def _label_everything(api, reviewer):
    labeled = 0
    while (nxt := api.post("/api/review/next/", headers=reviewer)).status_code == 200:
        submit = api.post(nxt.json()["submit_url"], json={"choice": "1"}, headers=reviewer)
        assert submit.status_code == 201, submit.text
        labeled += 1
    assert nxt.status_code == 204
    return labeled


@pytest.mark.worker
def test_api_pipeline_import_route_gate_with_tokens_only(live_server, celery_worker, settings, webhook_receiver):
    settings.REVIEW_SECOND_SHARE = 0.0  # one reviewer: no second review that nobody else could take
    lead = _bearer(factories.lead())
    reviewer = _bearer(factories.reviewer(username="rev-api", prefixes=["llmbar"]))
    WebhookEndpoint.objects.create(url=webhook_receiver.url, secret="whsec_e2e", events=["gate.opened"])
    api = httpx.Client(base_url=live_server.url, timeout=30)
    created = api.post("/api/control/batches/", headers=lead, files={"file": ("llmbar.jsonl", _disputed_lines())},
                       data={"name": "pipe", "confidence_threshold": "1.0", "audit_rate": "0"})
    assert (created.status_code, created.json()["created"]) == (201, N_ITEMS)
    report = wait_until(lambda: (r := api.get("/api/control/batches/pipe/", headers=lead).json())["status"] == "ready"
                        and r, timeout=120, what="the worker to route the batch")
    assert (report["routed_to_human"], report["judge_kept"], report["human_tasks"]) == (N_ITEMS, 0, N_ITEMS)
    held = api.get("/api/control/batches/pipe/gate/", headers=lead)
    assert (held.status_code, held.json()["reasons"]) == (409, [f"{N_ITEMS} human tasks open"])
    assert _label_everything(api, reviewer) == N_ITEMS
    released = api.get("/api/control/batches/pipe/gate/", headers=lead)
    assert (released.status_code, released.json()) == (
        200, {"batch": "pipe", "release": True, "reasons": [], "target": 0.9})
    [hook] = wait_until(lambda: webhook_receiver.requests, timeout=60, what="the gate.opened webhook")
    assert webhook_signature_verify(secret="whsec_e2e", body=hook.body, header=hook.headers["X-HybridQC-Signature"])
    assert json.loads(hook.body)["event"] == "gate.opened" and json.loads(hook.body)["batch"] == "pipe"
