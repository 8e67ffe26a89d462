"""A backtest run by a worker stores its progress (splits done) on its job marker; the polled
partial shows it as a bar and keeps the Run button disabled until the result is there."""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import reverse

from hybridqc.flows.imports import batch_import
from routing.training.backtest_jobs import (
    backtest_pending_mark,
    backtest_pending_path,
    backtest_progress,
    backtest_progress_save,
    backtest_run_or_error,
)
from routing.training.router_training import backtest_result_path, backtest_result_save
from routing.training.selectors import jobs_recent
from tests import factories
from tests.conftest import wait_until
from tests.support.browser import login


@pytest.fixture
def token(db):
    value = uuid.uuid4().hex
    yield value
    backtest_pending_path(value).unlink(missing_ok=True)
    backtest_result_path(value).unlink(missing_ok=True)


def test_backtest_progress_is_stored_after_every_split(token):
    batch = batch_import(batch_name="bt-hist", lines=factories.data_lines("llmbar.jsonl", 80)).batch
    backtest_pending_mark(token=token, batch=batch)
    assert backtest_progress(token) == {"done": 0, "total": 0, "percent": 0}  # queued
    backtest_progress_save(token=token, done=3, total=12)
    assert backtest_progress(token) == {"done": 3, "total": 12, "percent": 25}
    [row] = [r for r in jobs_recent() if r.kind == "backtest" and token[:8] in r.title]
    assert (row.status, row.percent, row.title) == ("running", 25, f"backtest {token[:8]}: 3 of 12 splits")
    result = backtest_run_or_error(batch=batch, alpha=0.2, delta=0.1, splits=4, token=token)
    assert "error" not in result and backtest_progress(token) == {"done": 4, "total": 4, "percent": 100}


def test_backtest_poll_shows_the_bar_and_disables_the_button_until_done(token, client, lead_user):
    batch = factories.batch("bt-poll").batch
    backtest_pending_mark(token=token, batch=batch)
    backtest_progress_save(token=token, done=50, total=200)
    client.force_login(lead_user)
    url = reverse("routing:backtest")
    running = client.get(url, {"token": token}, HTTP_HX_REQUEST="true").content.decode()
    assert re.search(r'<progress max="100" value="25" data-done="50"', running)
    assert "50 of 200 splits done" in running
    assert re.search(r'id="backtest-submit" hx-swap-oob="true" disabled', running)
    row = {"coverage": 0.5, "kept_agreement": 0.9, "guarantee_held": 1.0, "splits_with_nothing_kept": 0}
    backtest_result_save(token=token, result={"items": 50, "left_out_tied_reference": 0, "splits": 200, "alpha": 0.1,
                                              "delta": 0.1, **row, "baselines": {"random": row}})
    done = client.get(url, {"token": token}, HTTP_HX_REQUEST="true").content.decode()
    assert "<progress" not in done and re.search(r'id="backtest-submit" hx-swap-oob="true">Run backtest', done)


@pytest.mark.browser
def test_browser_backtest_progress_bar_advances(live_server, celery_worker, lead_user, page):
    batch = batch_import(batch_name="bt-live", lines=factories.data_lines("llmbar.jsonl", 120)).batch
    login(page, live_server.url, lead_user.username)
    page.goto(f"{live_server.url}/routing/backtest/")
    page.select_option("select[name=batch]", str(batch.pk))
    page.fill("input[name=splits]", "60")  # 120 labeled items x 60 splits: the worker's job
    page.click("#backtest-submit")
    page.wait_for_selector(".backtest-progress progress")
    assert page.is_disabled("#backtest-submit")
    values: set[int] = set()

    def moved() -> bool:
        bar = page.query_selector(".backtest-progress progress")
        if bar is not None:
            values.add(int(bar.get_attribute("data-done")))
        return page.query_selector(".backtest-result") is not None

    wait_until(moved, timeout=180, interval=0.3, what="the backtest's result")
    assert any(0 < v < 60 for v in values), values  # seen part-way, not only queued then done
    assert not page.is_disabled("#backtest-submit")
