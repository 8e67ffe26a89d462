"""In Chromium: a re-route and a re-judge wait for their confirmation; the jobs list shows a finished job; and
the walk — each role opens every page it may (navigation and every GET URL pattern the resolver
knows, as tests/hybridqc/test_authz_matrix.py lists them) and finds the site navigation, no raw
exception text, and a confirmation step on every form that changes more than one item."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from django.urls import NoReverseMatch, reverse

from hybridqc.flows.batches import batch_route
from reviewers.models import Notification
from reviewers.services import review_label_submit, review_task_claim
from routing.batches.models import Batch
from routing.decisions.models import RoutingRun
from routing.ingest.models import ImportJob
from routing.judging.models import JudgeRun
from tests import factories
from tests.factories import make_tasks
from tests.hybridqc.test_authz_matrix import ADMIN, LEAD, REVIEWER
from tests.support.browser import login
from tests.support.walk import FORM_CONFIRMATION, PageWatch, page_problems, role_paths

pytestmark = pytest.mark.browser

TIED = [{"judge": "judge-x", "order": "ab", "choice": 1}, {"judge": "judge-x", "order": "ba", "choice": 2}]



def _tied_batch(name: str) -> Batch:
    items = [factories.pairwise_item(i) for i in range(4)] + [factories.pairwise_item(i, judgments=TIED)
                                                              for i in range(4, 6)]
    batch = factories.batch(name, items=items, routing_mode="threshold", audit_rate=0.0, audit_min_per_domain=0).batch
    batch_route(batch=batch)
    return batch


def test_browser_reroute_waits_for_the_confirmation(live_server, transactional_db, page, reviewer_user):
    factories.lead("s-lead")
    batch = _tied_batch("s-confirm")
    login(page, live_server.url, "s-lead")
    page.goto(f"{live_server.url}/control/batch/{batch.pk}/router/")
    runs = RoutingRun.objects.filter(batch=batch).count()
    page.fill("input[name=audit_rate]", "0.5")
    page.click("text=Save and re-route unreviewed items")
    step = page.wait_for_selector('[data-confirm-step="batch-reroute"]')
    assert step.query_selector('[data-figure="human_tasks"]').get_attribute("data-after") == "4"
    assert RoutingRun.objects.filter(batch=batch).count() == runs  # nothing routed before the confirmation
    assert Batch.objects.get(pk=batch.pk).audit_rate == 0.0
    page.click("[data-confirm-accept]")
    page.wait_for_selector('[data-confirm-step="batch-reroute"]', state="detached")
    assert page.query_selector("header.topbar nav") is not None  # swapped in place, the page kept
    assert RoutingRun.objects.filter(batch=batch).count() == runs + 1
    assert Batch.objects.get(pk=batch.pk).audit_rate == 0.5
    page.wait_for_selector("form.revert-run")  # and now it can be undone


def test_browser_rejudge_waits_for_the_confirmation(live_server, transactional_db, page, reviewer_user):
    factories.lead("s-lead")
    batch = _tied_batch("s-rejudge")
    task = review_task_claim(reviewer=reviewer_user.reviewer)
    review_label_submit(task=task, reviewer=reviewer_user.reviewer, choice=1)
    config = factories.judge_config("http://127.0.0.1:9/v1")
    login(page, live_server.url, "s-lead")
    page.goto(f"{live_server.url}/routing/batch/{batch.pk}/judge/")
    page.click("text=Start judging")
    step = page.wait_for_selector('[data-confirm-step="batch-rejudge"]')
    assert step.query_selector('[data-figure="labels"]').get_attribute("data-after") == "7"  # 6 imported + 1
    assert step.query_selector('[data-figure="kept"]').get_attribute("data-after") == "1"
    assert not JudgeRun.objects.filter(batch=batch).exists()  # nothing started before the confirmation
    assert page.query_selector("text=Start judging") is None  # the start form gave way to the step
    page.click("[data-confirm-accept]")
    page.wait_for_selector('[data-confirm-step="batch-rejudge"]', state="detached")
    assert page.url == f"{live_server.url}/routing/batch/{batch.pk}/judge/"  # swapped in place
    assert JudgeRun.objects.get(batch=batch).judge_config_id == config.pk


def test_browser_jobs_list_shows_a_finished_job(live_server, transactional_db, page):
    factories.lead("s-lead")
    batch = _tied_batch("s-jobs")
    run = RoutingRun.objects.get(batch=batch)
    login(page, live_server.url, "s-lead")
    page.click("header.topbar nav >> text=Jobs")
    row = page.wait_for_selector(f'tr[data-job-kind="routing run"][data-job="{run.pk}"]')
    assert row.get_attribute("data-status") == "done"
    assert "routing of s-jobs: 6 items" in row.inner_text()
    assert row.query_selector("progress").get_attribute("value") == "100"


def _walk_world(reviewer_user) -> dict[str, str]:
    """A small demo-like database: routed batches, open and leased review work, an import job."""
    batch = _tied_batch("walk-batch")
    _tied_batch("walk-other")
    make_tasks(3, name="walk-items")
    done = review_task_claim(reviewer=reviewer_user.reviewer)
    label = review_label_submit(task=done, reviewer=reviewer_user.reviewer, choice=1)
    task = review_task_claim(reviewer=reviewer_user.reviewer)
    lead = factories.lead()
    factories.admin()
    note = Notification.objects.create(kind=Notification.Kind.UNSTAFFED, message="walk")
    job = ImportJob.objects.create(batch_name="walk-job", upload="imports/none.jsonl", created_by=lead,
                                   status="failed", error_count=1,
                                   errors=[{"line": 2, "field": "task", "message": "unknown task"}])
    return {"item": task.public_id, "token_id": "1", "job_id": str(job.pk), "alarm_id": "1",
            "batch_id": str(batch.pk), "name": batch.name, "version": "1", "notification_id": str(note.pk),
            "uidb64": "MQ", "token": "not-a-reset-token",  # a bad reset link: its page says so
            "example_id": str(task.example_id), "label_id": str(label.pk)}


def test_browser_walk_every_page_of_every_role(live_server, transactional_db, page, reviewer_user):
    values = _walk_world(reviewer_user)
    problems, visited = [], 0
    for role, username in ((REVIEWER, reviewer_user.username), (LEAD, "lead"), (ADMIN, "admin")):
        page.context.clear_cookies()
        login(page, live_server.url, username)
        nav = {urlparse(a.get_attribute("href")).path for a in page.query_selector_all("header.topbar nav a")}
        for path in sorted(set(role_paths(role, values)) | {p for p in nav if not p.startswith("/admin/")}):
            if page.request.get(f"{live_server.url}{path}", max_redirects=0).status == 405:
                continue  # a POST-only action: its form is checked on the page that shows it
            response = page.goto(f"{live_server.url}{path}")
            visited += 1
            if response is None or response.status >= 500:
                problems.append(f"{role} {path}: {response.status if response else 'no answer'}")
            problems += [f"{role} {p}" for p in page_problems(page, path)]
    print(f"walk: {visited} pages visited, {len(problems)} problems")  # noqa: T201 - the figure for the report
    assert visited >= 20
    assert problems == [], "\n".join(problems)


def test_walk_form_table_names_existing_views():
    unknown = []
    for name in FORM_CONFIRMATION:
        try:
            reverse(name)
        except NoReverseMatch as exc:
            if "with no arguments not found" not in str(exc) and "arguments '()' not found" not in str(exc):
                unknown.append(name)
    assert unknown == []
    assert set(FORM_CONFIRMATION.values()) == {"preview", "dialog", "one"}


def test_walk_checks_catch_an_unstyled_page_raw_errors_and_an_undeclared_form(browser):
    """The control of tests/support/walk.py's checks: a page with no stylesheet, a traceback, a
    console error and a form posting to an undeclared view is reported on every count."""
    watch = PageWatch(browser, "http://walk.test")
    html = ('<header class="topbar"><nav><a href="/">x</a></nav></header><p>Traceback (most recent call last)</p>'
            '<form method="post" action="/review/gold/"></form><form method="post" action="/api/tokens/"></form>'
            '<script>console.error("boom")</script>')
    watch.page.route("http://walk.test/", lambda route: route.fulfill(status=200, body=html,
                                                                      headers={"Content-Type": "text/html"}))
    problems = watch.visit("/")
    watch.close()
    assert problems == ["/: no stylesheet applied", "/: raw error text 'Traceback'",
                        "/: form to api-tokens is not declared in FORM_CONFIRMATION", "/: console: boom"]
