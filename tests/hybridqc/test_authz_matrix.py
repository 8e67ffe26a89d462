"""The authorization matrix: every URL pattern the resolver knows x anonymous, reviewer, another
reviewer (on the first reviewer's item), lead and admin, against the outcome declared per pattern
in RULES. The test fails if a pattern has no rule, if a rule names no pattern, or on any case
where a role the rule does not allow gets in (or an allowed one is refused, or anything 500s)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from dashboard.models import ApiToken, ExportJob
from reviewers.models import HumanLabel, Notification, ReviewTask
from reviewers.services import review_task_claim
from routing.ingest.models import ImportJob
from tests import factories
from tests.factories import make_tasks
from tests.support.figures import figures_write

ANON, REVIEWER, OTHER, LEAD, ADMIN = "anonymous", "reviewer", "other_reviewer", "lead", "admin"
ROLES = (ANON, REVIEWER, OTHER, LEAD, ADMIN)
EVERYONE = frozenset(ROLES)
SIGNED_IN = frozenset({REVIEWER, OTHER, LEAD, ADMIN})
REVIEWERS = frozenset({REVIEWER, OTHER})
HOLDER = frozenset({REVIEWER})  # the item belongs to the first reviewer: the other must not reach it
LEADS = frozenset({LEAD, ADMIN})
ADMINS = frozenset({ADMIN})
NOBODY: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Rule:
    allowed: frozenset[str]
    method: str = "get"  # POST-only views are probed by GET: the role check answers before the 405
    # Statuses that are an answer, not a refusal, for this pattern (the gate's 409 "held", say).
    served: frozenset[int] = frozenset()


RULES: dict[str, Rule] = {
    "": Rule(SIGNED_IN),  # home: sends each role to its place; anonymous to the login page
    "accounts/login/": Rule(EVERYONE),
    "accounts/logout/": Rule(EVERYONE),  # GET is refused (405) for everyone; logging out is a POST
    "accounts/password_reset/": Rule(EVERYONE),
    "accounts/password_reset/done/": Rule(EVERYONE),
    "accounts/reset/<uidb64>/<token>/": Rule(EVERYONE),  # a bad link says so (200), whoever opens it
    "accounts/reset/done/": Rule(EVERYONE),
    "review/": Rule(REVIEWERS),
    "review/next/": Rule(REVIEWERS),
    "review/task/<slug:item>/": Rule(HOLDER),
    "review/task/<slug:item>/submit/": Rule(HOLDER, "post"),
    "review/task/<slug:item>/skip/": Rule(HOLDER, "post"),
    "review/task/<slug:item>/heartbeat/": Rule(HOLDER, "post"),
    "review/me/": Rule(REVIEWERS),
    "review/history/": Rule(REVIEWERS),
    "review/history/<int:label_id>/correct/": Rule(HOLDER),  # the first reviewer's label: theirs alone
    "review/undo/": Rule(REVIEWERS, "post"),  # nothing inside the window: a redirect to the queue
    "review/roster/": Rule(ADMINS),
    "review/roster/export.csv": Rule(ADMINS),
    "review/notifications/<int:notification_id>/resolve/": Rule(ADMINS),
    "review/unstaffed/": Rule(ADMINS),
    "review/gold/": Rule(LEADS),
    "control/": Rule(LEADS),
    "control/upload/": Rule(LEADS),
    "control/batch/<int:batch_id>/": Rule(LEADS),
    "control/batch/<int:batch_id>/export.jsonl": Rule(LEADS),
    "control/batch/<int:batch_id>/retry/": Rule(LEADS),
    "routing/batch/<int:batch_id>/judge/": Rule(LEADS),
    "routing/model/": Rule(LEADS),
    "routing/model/retrain/": Rule(LEADS),
    "routing/model/<int:version>/promote/": Rule(ADMINS),
    "routing/model/rollback/": Rule(ADMINS),
    "routing/backtest/": Rule(LEADS),
    "api/control/batches/": Rule(LEADS),
    "api/control/batches/<str:name>/": Rule(LEADS),
    "api/routing/batches/<int:batch_id>/judge-runs/": Rule(LEADS),
    "api/review/next/": Rule(REVIEWERS, "post"),
    "api/review/tasks/<slug:item>/submit/": Rule(HOLDER, "post"),
    "api/review/tasks/<slug:item>/heartbeat/": Rule(HOLDER, "post"),
    # The admin site's own exceptions to ADMIN_SITE below.
    "accounts/tokens/": Rule(SIGNED_IN),
    "accounts/tokens/<int:token_id>/revoke/": Rule(frozenset({LEAD}), "post"),  # the lead's token: theirs alone
    "control/imports/<int:job_id>/": Rule(LEADS),
    "control/imports/<int:job_id>/retry/": Rule(LEADS),
    "control/batch/<int:batch_id>/export/": Rule(LEADS, served=frozenset({409})),  # held: asks to confirm
    "control/batch/<int:batch_id>/export/jobs/": Rule(LEADS, "post"),  # an empty form: 422
    "control/exports/<int:job_id>/": Rule(LEADS),
    "control/exports/<int:job_id>/download/": Rule(LEADS, served=frozenset({409})),  # queued: not done yet
    "control/exports/<int:job_id>/retry/": Rule(LEADS, "post"),
    "control/batch/<int:batch_id>/drift-to-humans/": Rule(LEADS),
    "control/batch/<int:batch_id>/router/": Rule(LEADS),
    "control/items/": Rule(LEADS),  # reviewers see only their own work
    "control/item/<int:example_id>/": Rule(LEADS),
    "control/batch/<int:batch_id>/router/revert/": Rule(LEADS),
    "control/batch/<int:batch_id>/judge/start/": Rule(LEADS),
    "control/trends/": Rule(LEADS),
    "control/jobs/": Rule(LEADS),
    "control/trends/check/": Rule(LEADS),
    "control/alarms/<int:alarm_id>/always-human/": Rule(LEADS),
    "control/alarms/<int:alarm_id>/dismiss/": Rule(LEADS),
    "api/control/batches/<str:name>/gate/": Rule(LEADS, served=frozenset({409})),  # 409: the gate holds
    "api/control/batches/<str:name>/export/": Rule(LEADS, served=frozenset({409})),
    "api/control/imports/<int:job_id>/": Rule(LEADS),
    "api/control/exports/<int:job_id>/": Rule(LEADS),
    "api/control/exports/<int:job_id>/download/": Rule(LEADS, served=frozenset({409})),  # queued: not done yet
    "api/control/imports/<int:job_id>/retry/": Rule(LEADS, "post", served=frozenset({409})),  # not failed
    "api/control/trends/": Rule(LEADS),
    "api/tokens/": Rule(SIGNED_IN),
    "api/tokens/<int:token_id>/": Rule(SIGNED_IN),  # DELETE only: GET is a 405 for every signed-in user
    "api/schema/": Rule(SIGNED_IN),
    "api/docs/": Rule(SIGNED_IN),
    "favicon.ico": Rule(EVERYONE),
    "admin/login/": Rule(EVERYONE),
    "admin/logout/": Rule(EVERYONE),
    "admin/autocomplete/": Rule(NOBODY),  # no model declares autocomplete fields: refused for all
    "admin/r/<path:content_type_id>/<path:object_id>/": Rule(NOBODY),  # no model has a public page
    # Records written by the system only: nobody adds them by hand, superusers included.
    "admin/axes/accessattempt/add/": Rule(NOBODY),
    "admin/axes/accesslog/add/": Rule(NOBODY),
    "admin/axes/accessfailurelog/add/": Rule(NOBODY),
    "admin/routing/routingrun/add/": Rule(NOBODY),
    "admin/routing/judgerun/add/": Rule(NOBODY),
    "admin/reviewers/humanlabel/add/": Rule(NOBODY),
    "admin/reviewers/humanlabel/<path:object_id>/delete/": Rule(NOBODY),
    "admin/routing/routingdecision/add/": Rule(NOBODY),
    "admin/routing/routingdecision/<path:object_id>/delete/": Rule(NOBODY),
    "admin/routing/judgment/add/": Rule(NOBODY),
    "admin/routing/judgment/<path:object_id>/delete/": Rule(NOBODY),
    "admin/dashboard/apitoken/add/": Rule(NOBODY),  # tokens are minted by their owner, shown once
    "admin/dashboard/webhookdelivery/add/": Rule(NOBODY),  # deliveries are made by gate changes
    "admin/(?P<url>.*)$": Rule(NOBODY),  # the catch-all: 404 for staff, the login page for the rest
}
# Django's admin site, one rule for all its patterns: staff only (the admin role); everyone else is
# sent to the admin's login page before any admin view runs.
ADMIN_SITE = ("admin/", Rule(ADMINS))


def url_patterns() -> list[str]:
    """Every pattern the resolver knows, as its full route text."""

    def walk(resolver: URLResolver, prefix: str) -> list[str]:
        found: list[str] = []
        for p in resolver.url_patterns:
            if isinstance(p, URLResolver):
                found += walk(p, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                found.append(prefix + str(p.pattern))
        return found

    return walk(get_resolver(), "")


def rule_for(route: str) -> Rule | None:
    if route in RULES:
        return RULES[route]
    return ADMIN_SITE[1] if route.startswith(ADMIN_SITE[0]) else None


def concrete_url(route: str, values: dict[str, str]) -> str:
    """The route with every parameter filled in (route converters and the admin's regex groups)."""
    url = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values[m.group(1)], route)
    url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], url)
    return "/" + url.replace("^", "").replace("$", "")


DENIED_STATUSES = {401, 403, 404, 409}  # 404/409: the item is not theirs (nothing of it shown)


def denied(response) -> bool:
    if response.status_code in (301, 302):
        return "/login/" in response.headers.get("Location", "")
    return response.status_code in DENIED_STATUSES


@pytest.fixture
def world(db):
    batch = factories.batch("authz-batch").batch
    holder = factories.reviewer("rev-a", prefixes=["test"]).reviewer
    factories.reviewer("rev-b", prefixes=["test"])
    make_tasks(2, name="authz-items")
    task = review_task_claim(reviewer=holder)
    note = Notification.objects.create(kind=Notification.Kind.UNSTAFFED, message="x")
    # A label of the first reviewer's, given long ago (so "undo" leaves it and the held item alone).
    labeled = factories.make_examples(1, name="authz-labeled")[0]
    label = HumanLabel.objects.create(example=labeled, reviewer=holder, source=HumanLabel.Source.REVIEW, choice=1,
                                      task=ReviewTask.objects.create(example=labeled, kind="routed", status="done"))
    HumanLabel.objects.filter(pk=label.pk).update(created_at=timezone.now() - timedelta(days=1))
    clients = {ANON: Client()}
    for role, user in ((REVIEWER, holder.user), (OTHER, factories.User.objects.get(username="rev-b")),
                       (LEAD, factories.lead()), (ADMIN, factories.admin())):
        clients[role] = Client()
        clients[role].force_login(user)
    lead = factories.User.objects.get(username="lead")
    token = ApiToken.objects.create(user=lead, name="authz", prefix="authzprefix", token_hash="0" * 64)
    job = ImportJob.objects.create(batch_name="authz-job", upload="imports/none.jsonl", created_by=lead)
    ExportJob.objects.create(pk=job.pk, batch=batch, fmt="jsonl")  # one job_id for both kinds of job
    values = {"item": task.public_id, "token_id": str(token.pk), "job_id": str(job.pk), "alarm_id": "1",
              "batch_id": str(batch.pk), "name": batch.name, "example_id": str(task.example_id), "version": "1",
              "notification_id": str(note.pk), "label_id": str(label.pk),
              "uidb64": "MQ", "token": "bad-token", "object_id": "1", "content_type_id": "1",
              "id": str(factories.User.objects.get(username="admin").pk),  # an admin page of a user that exists
              "app_label": "routing", "url": "no-such-page/"}
    return clients, values


def test_authz_rules_cover_every_url_pattern():
    routes = url_patterns()
    assert [r for r in routes if rule_for(r) is None] == []
    assert sorted(set(RULES) - set(routes)) == []


def test_authz_matrix_has_no_violation(world):
    clients, values = world
    routes = url_patterns()
    violations, cases = [], 0
    for route in routes:
        rule = rule_for(route)
        assert rule is not None, route
        url = concrete_url(route, values)
        for role in ROLES:
            response = getattr(clients[role], rule.method)(url)
            cases += 1
            refused = denied(response) and response.status_code not in rule.served
            if response.status_code >= 500 or refused == (role in rule.allowed):
                violations.append(f"{rule.method.upper()} {url} as {role}: {response.status_code}")
    figures_write("authz", {"authz_patterns": len(routes), "authz_cases": cases,
                            "authz_violations": len(violations)})
    assert violations == [], "\n".join(violations)
