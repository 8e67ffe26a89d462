"""The walk on the real demo (`manage.py demo_load`, as `make demo` loads it), in Chromium: its gate
facts (one batch released, the others held, each held batch's page naming its reasons); every page
of every role with values taken from the demo's rows (every batch, a sample of items, the model,
trends, jobs...); every admin page of every registered model; every GET endpoint of the API. Each
page is checked by tests/support/walk.py: status, a stylesheet applied, no console error, no raw
error text, every POST form declared with how it asks before changing more than one item."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO

import pytest
from axes.models import AccessFailureLog
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.utils.html import escape
from pytest_django.live_server_helper import LiveServer

from dashboard.alarms import alarms_record
from dashboard.export_jobs import export_job_create, export_job_execute
from dashboard.gate import batch_gate
from dashboard.management.commands.demo_load import PASSWORD
from dashboard.models import WebhookDelivery, WebhookEndpoint
from dashboard.tokens import api_token_create
from reviewers.models import HumanLabel, Notification, ReviewerProfile
from reviewers.services import review_label_submit, review_task_claim, review_task_skip
from routing.batches.models import Batch, Example
from routing.decisions.models import RoutingDecision
from routing.ingest.models import ImportJob
from routing.judging.models import JudgeConfig, JudgeRun
from routing.monitoring.models import Alarm
from tests.hybridqc.test_authz_matrix import ADMIN, LEAD, REVIEWER, concrete_url, rule_for, url_patterns
from tests.support.walk import ADMIN_ACTIONS, NOT_PAGES, PageWatch

# Each test in a transaction of its own (rolled back), over the demo the module committed once.
# No django_db mark: the demo is committed once for the module, not rolled back per test, and the
# module runs with the tests that use no database, after the transactional browser tests, so its
# Chromium (the session's) starts where theirs does, never before the tests that run asyncio.
pytestmark = [pytest.mark.browser]

# The demo's gates, as `make demo` loads it (the full data files): one batch released, four held.
# The batches the demo holds, and the shape of their reasons: open human work, then the audit bound
# (or none yet).
# Not the counts: the demo's playback on PostgreSQL does not give the same counts run to run (42-46
# open tasks of llmbar-adversarial over three loads), so the pages are checked against the gates as
# stored instead.
HELD = ("llmbar-adversarial", "mtbench-experts", "pandalm-part1", "pandalm-part2")
REASONS = (re.compile(r"[1-9][0-9]* human tasks open"),
           re.compile(r"audit agreement lower bound [0-9.]+% is below the target 90%"
                      r"|no audited item reviewed yet: the judge's agreement is unmeasured"))
FILES = (".jsonl", ".csv", "download/", "api/schema/")  # fetched, not opened: the answer is a file


@dataclass
class Demo:
    url: str
    gates: dict[str, dict]  # each batch's gate as the demo left it, before the walk's own additions
    gate_pages: list[str]  # the problems of the control center and batch pages then (none, it is hoped)
    world: dict[str, list[str]]


@pytest.fixture(scope="module")
def demo_site(django_db_setup, django_db_blocker, browser) -> Iterator[Demo]:
    """The demo loaded once for this module's tests (it takes most of their time), committed, served
    by a live server of the module's own; flushed after the last test as a transactional test is."""
    with django_db_blocker.unblock():
        call_command("demo_load", stdout=StringIO())
        gates = {b.name: batch_gate(b) for b in Batch.objects.order_by("name")}
        server = LiveServer("localhost")
        server._live_server_modified_settings.enable()
        try:
            # Before the walk's additions (a label, a skip, a held item change the gates' counts).
            watch = PageWatch(browser, server.url)
            watch.login("lead", PASSWORD)
            gate_pages = _gate_problems(watch)
            watch.close()
            yield Demo(server.url, gates, gate_pages, _demo_world())
        finally:
            server._live_server_modified_settings.disable()
            server.stop()
            # The server's request threads keep their connections (CONN_MAX_AGE) past its stop; the
            # test database can only be dropped without them.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                               " WHERE datname = current_database() AND pid <> pg_backend_pid()")
            call_command("flush", interactive=False, verbosity=0)


@pytest.fixture
def demo(demo_site, django_db_blocker) -> Iterator[Demo]:
    with django_db_blocker.unblock():  # the module's committed demo, read and added to as it is
        yield demo_site


def _labelled(reviewer: ReviewerProfile) -> HumanLabel:
    task = review_task_claim(reviewer=reviewer)
    assert task is not None
    if task.example.task == "rating":
        return review_label_submit(task=task, reviewer=reviewer, rating=task.example.scale_min)
    return review_label_submit(task=task, reviewer=reviewer, choice=1)


def _sample_items() -> list[int]:
    """An item with a HybridQC review label per batch; one the judge kept and one audited."""
    examples = Example.objects.order_by("pk")
    # A batch may have no played-back label: the playback's counts vary run to run on PostgreSQL.
    reviewed = [examples.filter(batch=b, human_labels__source=HumanLabel.Source.REVIEW).values_list("pk", flat=True)
                .first() for b in Batch.objects.order_by("pk")]
    ids = [pk for pk in reviewed if pk is not None]
    assert ids, "the demo played back no review label"
    ids.append(examples.filter(decision__route=RoutingDecision.Route.JUDGE, decision__audit=False)[0].pk)
    ids.append(examples.filter(decision__audit=True).exclude(pk__in=ids)[0].pk)
    return ids


def _demo_world() -> dict[str, list[str]]:
    """The demo, and what its visitors would add by using it: the reviewer's label and held item, a
    skip, the lead's token, an export, a failed import, the trend alarms, a notification, a webhook."""
    reviewer = ReviewerProfile.objects.get(user__username="reviewer")
    label = _labelled(reviewer)
    skipped = review_task_claim(reviewer=reviewer)
    review_task_skip(task=skipped, reviewer=reviewer, reason="walk: not my language")
    held = review_task_claim(reviewer=reviewer)
    lead = User.objects.get(username="lead")
    token = api_token_create(user=lead, name="walk", expires_in_days=1).token
    natural = Batch.objects.get(name="llmbar-natural")
    export = export_job_create(batch=natural, fmt="jsonl", user=lead, confirmed=False)
    export_job_execute(job_id=export.pk)
    ImportJob.objects.create(pk=export.pk, batch_name="walk-job", upload="imports/none.jsonl", created_by=lead,
                             status="failed", error_count=1,
                             errors=[{"line": 2, "field": "task", "message": "unknown task"}])
    assert alarms_record() == []  # the demo's trends raise none: its released batch stays released
    assert batch_gate(natural)["release"]
    # One alarm for the alarm pages and forms.
    alarms = [Alarm.objects.create(kind=Alarm.Kind.AGREEMENT_DRIFT, domain="pandalm", judge_version="gpt-3.5-turbo",
                                   period="2026-11", p_value=0.004, effect=-0.12, message="walk: agreement drift")]
    note = Notification.objects.create(kind=Notification.Kind.UNSTAFFED, message="walk: 1 task unstaffed")
    endpoint = WebhookEndpoint.objects.create(url="http://127.0.0.1:9/hook", events=["gate.opened"])
    WebhookDelivery.objects.create(endpoint=endpoint, batch=natural, event="gate.opened", body="{}")
    # A judge run, for the judge run admin pages (none in the demo: its judge runs on demand).
    JudgeRun.objects.create(batch=Batch.objects.get(name="pandalm-part2"), judge_config=JudgeConfig.objects.get(),
                            status="done")
    # Axes writes failure logs only with AXES_ENABLE_ACCESS_FAILURE_LOG (off): one row for its admin pages.
    AccessFailureLog.objects.create(username="walk-nobody", ip_address="127.0.0.1", user_agent="walk",
                                    path_info="/admin/login/")
    batches = list(Batch.objects.order_by("pk"))
    return {"item": [held.public_id], "label_id": [str(label.pk)], "token_id": [str(token.pk)],
            "job_id": [str(export.pk)], "alarm_id": [str(a.pk) for a in alarms], "version": ["1"],
            "notification_id": [str(note.pk)], "batch_id": [str(b.pk) for b in batches],
            "name": [b.name for b in batches], "example_id": [str(pk) for pk in _sample_items()],
            "uidb64": ["MQ"], "token": ["not-a-reset-token"]}


def _expand(route: str, world: dict[str, list[str]]) -> list[str]:
    """The route once per value of each of its parameters (one parameter varies at a time)."""
    first = {key: values[0] for key, values in world.items() if values}
    varying = [key for key in world if f"{key}>" in route]
    if not varying:
        return [concrete_url(route, first)]
    return [concrete_url(route, {**first, key: value}) for key in varying for value in world[key]]


def _walk_routes(role: str) -> list[tuple[str, frozenset[int]]]:
    """The GET routes the role may open (by the authorization matrix), with the statuses that answer them."""
    routes = []
    for route in url_patterns():
        rule = rule_for(route)
        if rule is None or rule.method != "get" or role not in rule.allowed or any(n in route for n in NOT_PAGES):
            continue
        routes.append((route, frozenset({200}) | rule.served))
    return routes


def _walk_role(watch: PageWatch, role: str, world: dict[str, list[str]], *, every_value: bool) -> list[str]:
    """Every page of the role: each route once per demo row (``every_value``) or once; a route whose
    first page is a POST-only action (405) is left after it, its form is checked where it is shown."""
    problems: list[str] = []
    for route, statuses in _walk_routes(role):
        paths = _expand(route, world) if every_value else _expand(route, world)[:1]
        for path in paths:
            post_only = len(watch.post_only)
            if any(f in path for f in FILES):
                problems += watch.fetch(path, statuses)
            else:
                problems += watch.visit(path, statuses=statuses | {405})
            if len(watch.post_only) > post_only:
                break
    return [f"{role} {p}" for p in problems]


def _gate_problems(watch: PageWatch) -> list[str]:
    problems = watch.visit("/control/")
    control = watch.page.content()
    problems += [f"/control/: {n} gates {kind}" for kind, n in (("pass", 1), ("hold", 4))
                 if control.count(f'data-gate="{kind}"') != n]
    for name in HELD:
        batch = Batch.objects.get(name=name)
        reasons = batch_gate(batch)["reasons"]
        problems += watch.visit(f"/control/batch/{batch.pk}/")
        html = watch.page.content()
        problems += [f"{name}: reason {r!r} not shown" for r in reasons if f"<li>{escape(r)}</li>" not in html]
    natural = Batch.objects.get(name="llmbar-natural")
    problems += watch.visit(f"/control/batch/{natural.pk}/")
    if '<span class="badge ok">pass</span>' not in watch.page.content():
        problems.append("llmbar-natural: its page does not show the gate passing")
    return problems


def test_walk_demo_gate_passes_for_one_batch_and_holds_four_with_reasons(demo, browser):
    assert [name for name, gate in demo.gates.items() if gate["release"]] == ["llmbar-natural"]
    held = {name: gate["reasons"] for name, gate in demo.gates.items() if not gate["release"]}
    assert tuple(held) == HELD
    for name, reasons in held.items():
        assert len(reasons) == len(REASONS), (name, reasons)
        assert all(pattern.fullmatch(r) for pattern, r in zip(REASONS, reasons, strict=True)), (name, reasons)
    assert demo.gate_pages == []


def test_walk_demo_every_page_of_every_role(demo, browser):
    problems, counts = [], {}
    # The lead opens every batch's pages and the sampled items; the admin sees the same pages (and its
    # own), each route once: what differs between the two is the role, not the row.
    for role, username, every_value in ((REVIEWER, "reviewer", True), (LEAD, "lead", True), (ADMIN, "admin", False)):
        watch = PageWatch(browser, demo.url)
        watch.login(username, PASSWORD)
        problems += _walk_role(watch, role, demo.world, every_value=every_value)
        counts[role] = watch.visited
        watch.close()
    print(f"demo walk: pages per role {counts}, {len(problems)} problems")  # noqa: T201 - the report's figure
    assert problems == [], "\n".join(problems)


# The admin's rows the system writes: shown, never added or edited by hand (their figures would lie).
ADMIN_READ_ONLY = {"axes.accessattempt", "axes.accessfailurelog", "axes.accesslog", "dashboard.webhookdelivery",
                   "reviewers.humanlabel", "routing.judgerun", "routing.judgment", "routing.routingdecision",
                   "routing.routingrun"}
# Rows nobody adds by hand: the read-only ones, and API tokens (minted by their owner, shown once).
ADMIN_NO_ADD = ADMIN_READ_ONLY | {"dashboard.apitoken"}
ADMIN_NAV = "#header #site-name"


def _admin_action_problems(watch: PageWatch, url: str, model, tried: set[str]) -> list[str]:
    """Each bulk action the changelist offers (the first time the walk meets it: "delete selected"
    is the same code on every model), run on its first row, stops at a confirmation page (or
    Django's refusal to delete rows protected by others) and changes nothing."""
    problems = []
    actions = [o.get_attribute("value") for o in watch.page.query_selector_all("select[name=action] option")]
    for action in [a for a in actions if a and a not in tried]:
        tried.add(action)
        if watch.page.url != f"{watch.base}{url}":
            watch.visit(url, nav=ADMIN_NAV)
        rows = model.objects.count()
        watch.page.check("input.action-select >> nth=0")
        watch.page.select_option("select[name=action]", action)
        watch.page.click("button[name=index]")
        watch.page.wait_for_load_state("load")
        asks = watch.page.query_selector("form input[name=post][value=yes]") is not None
        refused = watch.page.inner_text("#content h1").startswith("Cannot delete")  # rows it may not delete
        if not (asks or refused):
            problems.append(f"{url}: action {action!r} ran without a confirmation page")
        if model.objects.count() != rows:
            problems.append(f"{url}: action {action!r} changed the rows before its confirmation")
    return problems


def _admin_model_problems(watch: PageWatch, model, facts: dict[str, set[str]], tried: set[str]) -> list[str]:
    label = model._meta.label_lower
    url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    problems = watch.visit(url, nav=ADMIN_NAV)
    can_add = watch.page.query_selector(f'a.addlink[href="{url}add/"]') is not None
    problems += _admin_action_problems(watch, url, model, tried)
    pk = model.objects.order_by("pk").values_list("pk", flat=True).first()
    if pk is None:
        return [*problems, f"{label}: no row in the demo to open"]
    problems += watch.visit(f"{url}{pk}/change/", nav=ADMIN_NAV)
    if watch.page.query_selector("[name=_save]") is None:
        facts["read_only"].add(label)
    if can_add:
        problems += watch.visit(f"{url}add/", nav=ADMIN_NAV)
    else:
        facts["no_add"].add(label)
    return problems


def test_walk_demo_admin_pages_styled_and_generated_rows_read_only(demo, browser):
    watch = PageWatch(browser, demo.url)
    # A failed login first: it makes the axes rows the admin pages list.
    watch.login("walk-nobody", "wrong-password", form="/admin/login/", expect_refusal=True)
    watch.login("admin", PASSWORD, form="/admin/login/")
    problems = watch.visit("/admin/", nav=ADMIN_NAV)
    if watch.page.inner_text(ADMIN_NAV) != "HybridQC administration":
        problems.append("/admin/: not the branded admin")
    facts: dict[str, set[str]] = {"read_only": set(), "no_add": set()}
    tried: set[str] = set()
    models = sorted(admin.site._registry, key=lambda m: m._meta.label_lower)
    for app_label in sorted({m._meta.app_label for m in models}):
        problems += watch.visit(f"/admin/{app_label}/", nav=ADMIN_NAV)
    for model in models:
        problems += _admin_model_problems(watch, model, facts, tried)
    print(f"admin walk: {watch.visited} pages of {len(models)} models; {facts}")  # noqa: T201 - the report's figure
    watch.close()
    assert problems == [], "\n".join(problems)
    assert facts == {"read_only": ADMIN_READ_ONLY, "no_add": ADMIN_NO_ADD}
    assert tried == set(ADMIN_ACTIONS)  # every declared action was met, and checked


def _api_routes() -> list[str]:
    return [route for route in url_patterns() if route.startswith("api/") and (rule := rule_for(route))
            and rule.method == "get" and LEAD in rule.allowed]


def test_walk_demo_api_pages_as_a_lead(demo, browser):
    """The browsable API and the docs render styled; each endpoint's JSON answer is JSON, never a 500."""
    watch = PageWatch(browser, demo.url)
    watch.login("lead", PASSWORD)
    problems, answers = [], {}
    for route in _api_routes():
        statuses = frozenset({200, 405}) | rule_for(route).served  # 405: a DELETE-only endpoint says so
        path = _expand(route, demo.world)[0]
        if route == "api/docs/":
            problems += watch.visit(path, nav=".swagger-ui")
            continue
        # A released batch's export answers its file, a download rather than a page.
        if not any(f in path for f in FILES) and not path.endswith("/export/"):
            problems += watch.visit(path, statuses=statuses, nav=".navbar")
        response = watch.page.request.get(f"{demo.url}{path}", headers={"Accept": "application/json"})
        answers[path] = response.status
        ndjson = "ndjson" in response.headers["content-type"]  # an export file: one JSON document a line
        try:
            [json.loads(line) for line in (response.text().splitlines() if ndjson else [response.text()])]
        except ValueError:
            problems.append(f"{path}: the JSON answer is not JSON ({response.headers['content-type']})")
        if response.status >= 500 or response.status not in statuses:
            problems.append(f"{path}: JSON answer {response.status}")
    print(f"api walk: {len(answers)} endpoints {answers}")  # noqa: T201 - the report's figure
    watch.close()
    assert problems == [], "\n".join(problems)
