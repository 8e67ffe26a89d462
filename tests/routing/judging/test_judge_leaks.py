"""Nothing an endpoint replies reaches a stored error or a page, redirects are not followed, and
the host is checked again before every request. Real HTTP to the fake judge server."""

from __future__ import annotations

import asyncio
import json
import logging
import socket

import pytest
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import reverse

from routing.judging.base import VerdictRequest
from routing.judging.fake_judge.server import REFUSAL_TEXT, REPLY_BODY_MARKER
from routing.judging.guards import EndpointPolicy
from routing.judging.judge_runs import judge_run_start
from routing.judging.models import JudgeRun, JudgeSignals, Judgment
from routing.judging.openai_backend import JudgeSettings, OpenAIJudge
from routing.judging.services import judge_chunk_run
from routing.judging.signals import batch_signals_compute
from tests import factories
from tests.support import fake_server
from tests.support.fake_server import stats

pytestmark = pytest.mark.django_db
fake_judge = fake_server.fake_judge  # the fixture
BACKEND_LOG = "routing.judging.openai_backend"


def _run(fake, prompts: list[str], **fields):
    batch = factories.batch("leaks", items=[factories.pairwise_item(i, prompt=p) for i, p in enumerate(prompts)]).batch
    config = factories.judge_config(fake.url, swap_orders=False, **fields)
    run = judge_run_start(batch=batch, config=config)
    judge_chunk_run(run=run, example_ids=list(batch.examples.order_by("pk").values_list("pk", flat=True)))
    run.refresh_from_db()
    return batch, config, run


def test_judge_redirect_is_not_followed_and_stored_as_fixed_summary(fake_judge):
    _, config, run = _run(fake_judge, ["Q0 {{fault:302}}"])
    [judgment] = Judgment.objects.filter(judge=config.key)
    assert judgment.error == "judge failed: judge endpoint answered a redirect (3xx); redirects are not followed"
    assert judgment.attempts == 1  # not retried
    counts = stats(fake_judge.url)
    assert (counts["requests"], counts["faults"], counts["redirects_followed"]) == (1, {"302": 1}, 0)
    assert run.last_error == judgment.error


def test_judge_reply_bodies_never_reach_stored_errors_or_pages(fake_judge, lead_user, caplog):
    caplog.set_level(logging.DEBUG, logger=BACKEND_LOG)
    prompts = ["Q0 {{fault:400}}", "Q1 {{fault:500}}", "Q2 {{fault:refusal}}", "Q3 {{fault:302}}", "Q4"]
    batch, config, run = _run(fake_judge, prompts, retry_budget=2)
    errors = dict(Judgment.objects.filter(judge=config.key).values_list("example__external_id", "error"))
    assert errors == {"item-0": "judge failed: bad request (400)",
                      "item-1": "judge failed: server error 500 after 2 tries",
                      "item-2": "judge failed: the judge refused to answer",
                      "item-3": "judge failed: judge endpoint answered a redirect (3xx); redirects are not followed",
                      "item-4": ""}
    batch_signals_compute(examples=list(batch.examples.all()), judge=config.key)
    batch.refresh_from_db()
    stored = json.dumps([model_to_dict(run), model_to_dict(batch)]
                        + [model_to_dict(j) for j in Judgment.objects.filter(judge=config.key)]
                        + [model_to_dict(s) for s in JudgeSignals.objects.filter(judge_key=config.key)], default=str)
    client = Client()
    client.force_login(lead_user)
    pages = [client.get(reverse("routing:judge_panel", args=[batch.pk])).content.decode(),
             client.get(f"/api/batches/{batch.pk}/judge-runs/").content.decode()]
    assert "judge failed: bad request (400)" in pages[0]  # the panel does show the failures
    for text in (stored, *pages):
        assert REPLY_BODY_MARKER not in text and REFUSAL_TEXT not in text
    # The detail is logged at DEBUG only, truncated.
    leaked = [r for r in caplog.records if REPLY_BODY_MARKER in r.getMessage() or REFUSAL_TEXT in r.getMessage()]
    assert leaked and {r.levelno for r in leaked} == {logging.DEBUG}
    assert max(len(r.getMessage()) for r in leaked) <= 300 + 100


def test_judge_host_checked_again_at_request_time(fake_judge, monkeypatch):
    """A name that resolved to a public address when saved but to a loopback one now: refused
    before the request, not retried, and nothing reaches the server."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "judge.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    url = f"http://judge.example.com:{fake_judge.server.port}/v1"
    judge = OpenAIJudge(JudgeSettings(key="k@v1", base_url=url, model="m", api_key="no-key",
                                      endpoint=EndpointPolicy(allow_private=False)))
    request = VerdictRequest(example_id=1, task="pairwise", prompt="Q", responses=("a", "b"))

    async def judge_once():
        try:
            return await judge.judge(request)
        finally:
            await judge.aclose()

    verdict = asyncio.run(judge_once())
    assert verdict.error == (
        "judge failed: The judge's base URL (base_url) host judge.example.com is not a public address: 127.0.0.1 "
        "is loopback; set JUDGE_ALLOW_PRIVATE_HOSTS=1 to allow self-hosted judges.")
    assert verdict.attempts == 1
    assert stats(fake_judge.url)["requests"] == 0
    assert JudgeRun.objects.count() == 0
