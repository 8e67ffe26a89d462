"""The judge panel (htmx) and the judge-run API: who may use them, bad input, starting a run."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from hybridqc.celery import app
from hybridqc.confirm import TOKEN_FIELD
from routing.batches.models import Batch
from routing.decisions.models import RoutingDecision
from routing.decisions.route import decisions_save
from routing.decisions.selectors import batch_judge_coverage
from routing.judging.base import Verdict, VerdictRequest
from routing.judging.models import JudgeRun, Judgment
from routing.judging.selectors import batch_judge_unit_tokens
from routing.judging.services import judge_verdict_run, judgments_store
from tests import factories
from tests.support import fake_server

pytestmark = pytest.mark.django_db
fake_judge = fake_server.fake_judge  # the fixture
HTMX = {"HTTP_HX_REQUEST": "true"}
SECRET = "sk-panel-secret-777"


@pytest.fixture
def eager():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _url(batch: Batch) -> str:
    return reverse("routing:judge_panel", args=[batch.pk])


def _start(batch: Batch) -> str:
    return reverse("dashboard:judge-start", args=[batch.pk])


def _confirmed(client: Client, batch: Batch, data: dict) -> object:
    """Start a run as the panel does: the preview, then its confirmation with the token."""
    runs = JudgeRun.objects.filter(batch=batch).count()
    preview = client.post(_start(batch), data, **HTMX)
    assert preview.status_code == 200 and JudgeRun.objects.filter(batch=batch).count() == runs
    token = re.search(rf'name="{TOKEN_FIELD}" value="([^"]+)"', preview.content.decode()).group(1)
    return client.post(_start(batch), {**data, TOKEN_FIELD: token}, **HTMX)


def test_judge_panel_forbidden_to_reviewer(reviewer_user, fake_judge):
    batch = factories.batch("p1").batch
    factories.judge_config(fake_judge.url)
    client = _client(reviewer_user)
    assert client.get(_url(batch), **HTMX).status_code == 403
    assert client.post(_start(batch), {"judge_config": 1}, **HTMX).status_code == 403
    assert client.post(_url(batch), {"judge_config": 1}, **HTMX).status_code == 403
    assert not JudgeRun.objects.exists()


def test_judge_panel_anonymous_redirected_to_login():
    batch = factories.batch("p0").batch
    response = Client().get(_url(batch))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_judge_panel_shows_configs_to_lead_without_key(lead_user, fake_judge, monkeypatch):
    monkeypatch.setenv("HYBRIDQC_JUDGE_PANEL_KEY", SECRET)
    batch = factories.batch("p2").batch
    config = factories.judge_config(fake_judge.url, api_key_env="HYBRIDQC_JUDGE_PANEL_KEY")
    response = _client(lead_user).get(_url(batch), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert f'<option value="{config.pk}">fake-judge@v1 · fake-judge</option>' in html
    assert "Start judging" in html and "<html" not in html  # the partial only
    assert SECRET not in html


def test_judge_panel_full_page_without_htmx(lead_user):
    batch = factories.batch("p3").batch
    response = _client(lead_user).get(_url(batch))
    assert response.status_code == 200
    assert "<html" in response.content.decode() and "No active judge configuration" in response.content.decode()


def test_judge_panel_start_runs_end_to_end_in_process(lead_user, fake_judge, eager, django_capture_on_commit_callbacks):
    batch = factories.batch("p4", items=[factories.pairwise_item(i) for i in range(3)]).batch
    config = factories.judge_config(fake_judge.url)
    client = _client(lead_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = _confirmed(client, batch, {"judge_config": config.pk})
    assert response.status_code == 200
    run = JudgeRun.objects.get(batch=batch)
    assert (run.status, run.done, run.failed, run.total) == (JudgeRun.Status.DONE, 6, 0, 6)
    assert Judgment.objects.filter(judge="fake-judge@v1").count() == 6
    html = client.get(_url(batch), **HTMX).content.decode()
    assert 'data-status="done"' in html and "6 judged" in html and "of 6 verdicts (100%)" in html
    assert f"Tokens this run: {run.prompt_tokens} prompt + 72 completion." in html
    assert 'hx-trigger="every' not in html  # no polling once the run is done


def test_judge_panel_polls_while_running_and_lists_errors(lead_user, fake_judge):
    batch = factories.batch("p5", items=[factories.pairwise_item(0, prompt="Q {{fault:503}}")]).batch
    config = factories.judge_config(fake_judge.url, swap_orders=False)
    run = JudgeRun.objects.create(batch=batch, judge_config=config, backend="live", total=2,
                                  status=JudgeRun.Status.RUNNING)

    judge_verdict_run(run=run, example_id=batch.examples.get().pk, order="ab", sample=0)
    html = _client(lead_user).get(_url(batch), **HTMX).content.decode()
    assert 'hx-trigger="every 1500ms"' in html
    assert "judge failed: server error 503 after 3 tries" in html
    assert "1 failed" in html and "disabled" in html


def _verdict(example_id: int, variant: str, order: str, prompt_tokens: int, completion_tokens: int) -> Verdict:
    request = VerdictRequest(example_id=example_id, task="pairwise", prompt="q", responses=("a", "b"),
                             order=order, variant=variant)
    return Verdict(request=request, choice=1, probability=0.9, prompt_tokens=prompt_tokens,
                   completion_tokens=completion_tokens)


def test_judge_panel_shows_tokens_per_verdict_and_coverage(lead_user, fake_judge):
    batch = factories.batch("p8", items=[factories.pairwise_item(i) for i in range(4)]).batch
    e0, e1, e2, e3 = batch.examples.order_by("pk")
    config = factories.judge_config(fake_judge.url, n_variants=2)
    judgments_store(config=config, verdicts=[
        _verdict(e0.pk, "fewshot-1", "ab", 100, 10), _verdict(e0.pk, "fewshot-2", "ab", 120, 10),
        _verdict(e1.pk, "fewshot-1", "ab", 90, 10),
    ])
    route = RoutingDecision.Route
    decisions_save(decisions=[
        RoutingDecision(example=e0, route=route.JUDGE, audit=False, reason="kept", router_version="t"),
        RoutingDecision(example=e1, route=route.JUDGE, audit=True, reason="audit", router_version="t"),
        RoutingDecision(example=e2, route=route.HUMAN, audit=False, reason="low", router_version="t"),
        RoutingDecision(example=e3, route=route.JUDGE, audit=False, reason="kept", router_version="t"),
    ])
    # 340 tokens over 3 verdicts and 2 examples judged; kept = e0 and e3 (e1 is audited) of 4.
    assert batch_judge_unit_tokens(batch) == {"per_verdict": 340 / 3, "per_example": 170.0}
    assert batch_judge_coverage(batch) == {"kept": 2, "routed": 4, "total": 4, "share": 0.5}
    html = _client(lead_user).get(_url(batch), **HTMX).content.decode()
    assert 'data-tokens-per-verdict="113.3">113.3 tokens per verdict</span>' in html
    assert 'data-tokens-per-example="170.0">170.0 tokens per example judged</span>' in html
    assert 'data-coverage="0.500">judge kept 2 of 4 examples (50%, not audited)</span>' in html


def test_judge_panel_coverage_before_routing(lead_user):
    batch = factories.batch("p9", items=[factories.pairwise_item(0)]).batch
    assert batch_judge_coverage(batch) == {"kept": 0, "routed": 0, "total": 1, "share": 0.0}
    assert batch_judge_unit_tokens(batch) == {"per_verdict": None, "per_example": None}
    html = _client(lead_user).get(_url(batch), **HTMX).content.decode()
    assert "coverage: the batch is not routed yet" in html and "tokens per verdict" not in html


def test_judge_panel_rejects_unknown_config(lead_user, fake_judge):
    batch = factories.batch("p6").batch
    factories.judge_config(fake_judge.url)
    response = _client(lead_user).post(_start(batch), {"judge_config": 999999}, **HTMX)
    assert response.status_code == 400
    assert "Choose an active judge configuration." in response.content.decode()
    assert not JudgeRun.objects.exists()


def test_judge_panel_refuses_second_run_while_one_is_active(lead_user, fake_judge):
    batch = factories.batch("p7").batch
    config = factories.judge_config(fake_judge.url)
    JudgeRun.objects.create(batch=batch, judge_config=config, backend="live", total=10)
    response = _confirmed(_client(lead_user), batch, {"judge_config": config.pk})
    assert response.status_code == 409
    assert "batch p7 already has a judge run in progress" in response.content.decode()
    assert JudgeRun.objects.count() == 1


def test_judge_api_start_run(lead_user, fake_judge):
    batch = factories.batch("a1").batch
    config = factories.judge_config(fake_judge.url)
    url = f"/api/routing/batches/{batch.pk}/judge-runs/"
    response = _client(lead_user).post(url, {"judge_config": config.pk}, content_type="application/json")
    assert response.status_code == 201
    body = response.json()
    assert (body["judge"], body["status"], body["total"], body["batch"]) == ("fake-judge@v1", "queued", 10, batch.pk)
    assert _client(lead_user).get(url).json()[0]["id"] == body["id"]


def test_judge_api_rejects_reviewer_and_bad_input(reviewer_user, lead_user, fake_judge):
    batch = factories.batch("a2").batch
    config = factories.judge_config(fake_judge.url)
    url = f"/api/routing/batches/{batch.pk}/judge-runs/"
    denied = _client(reviewer_user).post(url, {"judge_config": config.pk}, content_type="application/json")
    assert denied.status_code == 403
    bad = _client(lead_user).post(url, {"judge_config": 424242}, content_type="application/json")
    assert bad.status_code == 400
    assert bad.json() == {"judge_config": ["No active judge configuration with id 424242."]}
    missing = _client(lead_user).post("/api/routing/batches/999999/judge-runs/", {"judge_config": config.pk},
                                      content_type="application/json")
    assert missing.status_code == 404
    assert not JudgeRun.objects.exists()
