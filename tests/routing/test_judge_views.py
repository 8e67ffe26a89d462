"""The judge panel (htmx) and the judge-run API: who may use them, bad input, starting a run."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from hybridqc.celery import app
from routing.models import Batch, JudgeRun, Judgment
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


def test_judge_panel_forbidden_to_reviewer(reviewer_user, fake_judge):
    batch = factories.batch("p1").batch
    factories.judge_config(fake_judge.url)
    client = _client(reviewer_user)
    assert client.get(_url(batch), **HTMX).status_code == 403
    assert client.post(_url(batch), {"judge_config": 1}, **HTMX).status_code == 403
    assert not JudgeRun.objects.exists()


def test_judge_panel_anonymous_redirected_to_login():
    batch = factories.batch("p0").batch
    response = Client().get(_url(batch))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_judge_panel_shows_configs_to_lead_without_key(lead_user, fake_judge, monkeypatch):
    monkeypatch.setenv("PANEL_KEY", SECRET)
    batch = factories.batch("p2").batch
    config = factories.judge_config(fake_judge.url, api_key_env="PANEL_KEY")
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
        response = client.post(_url(batch), {"judge_config": config.pk}, **HTMX)
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
    from routing.services.judging import judge_verdict_run

    judge_verdict_run(run=run, example_id=batch.examples.get().pk, order="ab", sample=0)
    html = _client(lead_user).get(_url(batch), **HTMX).content.decode()
    assert 'hx-trigger="every 1500ms"' in html
    assert "judge failed: server error 503 after 3 tries" in html
    assert "1 failed" in html and "disabled" in html


def test_judge_panel_rejects_unknown_config(lead_user, fake_judge):
    batch = factories.batch("p6").batch
    factories.judge_config(fake_judge.url)
    response = _client(lead_user).post(_url(batch), {"judge_config": 999999}, **HTMX)
    assert response.status_code == 400
    assert "Choose an active judge configuration." in response.content.decode()
    assert not JudgeRun.objects.exists()


def test_judge_panel_refuses_second_run_while_one_is_active(lead_user, fake_judge):
    batch = factories.batch("p7").batch
    config = factories.judge_config(fake_judge.url)
    JudgeRun.objects.create(batch=batch, judge_config=config, backend="live", total=10)
    response = _client(lead_user).post(_url(batch), {"judge_config": config.pk}, **HTMX)
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
