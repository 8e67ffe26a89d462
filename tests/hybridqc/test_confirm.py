"""The confirmation step of many-item actions: a re-route and a revert of the router panel show
what they will change (a dry run of the same flow), change nothing until confirmed, and refuse a
confirmation made on a state that has moved since (409)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from hybridqc.confirm import TOKEN_FIELD, ConfirmationError, dry_run, preview_check, preview_token
from hybridqc.flows.batches import batch_route
from hybridqc.flows.previews import batch_figures
from hybridqc.flows.receivers import batch_rejudged
from reviewers.models import HumanLabel, ReviewTask
from reviewers.services import review_label_submit, review_task_claim
from routing.batches.models import Batch
from routing.decisions.models import RoutingDecision, RoutingRun
from routing.judging.models import JudgeRun
from tests import factories

TIED = [{"judge": "judge-x", "order": "ab", "choice": 1}, {"judge": "judge-x", "order": "ba", "choice": 2}]
SETTINGS = {"routing_mode": "threshold", "alpha": "0.1", "delta": "0.1"}


@pytest.fixture
def routed(db, settings, reviewer_user):
    """Threshold mode, no audits: 4 unanimous items kept by the judge, 2 tied ones to humans."""
    settings.REVIEW_SECOND_SHARE = 0.0
    items = [factories.pairwise_item(i) for i in range(4)] + [factories.pairwise_item(i, judgments=TIED)
                                                              for i in range(4, 6)]
    batch = factories.batch("confirm-b", items=items, routing_mode="threshold", audit_rate=0.0,
                            audit_min_per_domain=0).batch
    batch_route(batch=batch)
    return batch


def _post(client, url, data):
    return client.post(url, data, HTTP_HX_REQUEST="true")


def _figures(body: str) -> dict[str, tuple[int, int]]:
    rows = re.findall(r'data-figure="(\w+)" data-before="(\d+)" data-after="(\d+)"', body)
    return {k: (int(b), int(a)) for k, b, a in rows}


def _token(body: str) -> str:
    return re.search(rf'name="{TOKEN_FIELD}" value="([^"]+)"', body).group(1)


def _decisions(batch: Batch) -> list[tuple[int, str, bool]]:
    return sorted(RoutingDecision.objects.filter(example__batch=batch).values_list("example_id", "route", "audit"))


def test_confirm_reroute_preview_changes_nothing_and_confirmation_does_what_it_showed(routed, client, lead_user):
    client.force_login(lead_user)
    url = reverse("dashboard:router_panel", args=[routed.pk])
    decisions, runs = _decisions(routed), RoutingRun.objects.count()
    preview = _post(client, url, {**SETTINGS, "audit_rate": "0.5"})
    body = preview.content.decode()
    assert preview.status_code == 200 and 'data-confirm-step="batch-reroute"' in body
    # 2 tied items routed; auditing half of the 4 kept ones adds 2 audit tasks.
    figures = _figures(body)
    assert figures["human_tasks"] == (2, 4) and figures["audited"] == (0, 2)
    assert figures["judge_only"] == (4, 2) and figures["routed_to_human"] == (2, 2)
    assert _decisions(routed) == decisions and RoutingRun.objects.count() == runs  # nothing changed yet
    assert Batch.objects.get(pk=routed.pk).audit_rate == 0.0
    done = _post(client, url, {**SETTINGS, "audit_rate": "0.5", TOKEN_FIELD: _token(body)})
    assert done.status_code == 200 and "data-confirm-step" not in done.content.decode()
    assert batch_figures(routed) == {k: after for k, (_, after) in figures.items()}
    assert Batch.objects.get(pk=routed.pk).audit_rate == 0.5 and RoutingRun.objects.count() == runs + 1


def test_confirm_reroute_refuses_409_when_a_reviewer_started_since_the_preview(routed, client, lead_user,
                                                                               reviewer_user):
    client.force_login(lead_user)
    url = reverse("dashboard:router_panel", args=[routed.pk])
    token = _token(_post(client, url, {**SETTINGS, "audit_rate": "0.5"}).content.decode())
    review_task_claim(reviewer=reviewer_user.reviewer)  # a lease: the state the preview saw is gone
    decisions, runs = _decisions(routed), RoutingRun.objects.count()
    refused = _post(client, url, {**SETTINGS, "audit_rate": "0.5", TOKEN_FIELD: token})
    body = refused.content.decode()
    assert refused.status_code == 409 and "changed since the preview" in body
    assert 'data-confirm-step="batch-reroute"' in body and _token(body) != token  # a fresh preview
    assert _decisions(routed) == decisions and RoutingRun.objects.count() == runs


def test_confirm_reroute_refuses_a_token_for_other_settings(routed, client, lead_user):
    client.force_login(lead_user)
    url = reverse("dashboard:router_panel", args=[routed.pk])
    token = _token(_post(client, url, {**SETTINGS, "audit_rate": "0.5"}).content.decode())
    refused = _post(client, url, {**SETTINGS, "audit_rate": "0.9", TOKEN_FIELD: token})
    assert refused.status_code == 409 and Batch.objects.get(pk=routed.pk).audit_rate == 0.0


def test_confirm_token_forged_is_a_400_naming_the_field():
    with pytest.raises(ConfirmationError) as caught:
        preview_check(token="not-a-token", action="x", state={})
    assert caught.value.status == 400 and TOKEN_FIELD in caught.value.message
    token = preview_token(action="x", state={"a": 1}, summary={"n": 3})
    assert preview_check(token=token, action="x", state={"a": 1}) == {"n": 3}
    with pytest.raises(ConfirmationError) as other:
        preview_check(token=token, action="y", state={"a": 1})
    assert other.value.status == 400


def test_confirm_dry_run_rolls_back_its_writes(db):
    created = dry_run(lambda: factories.lead("dry-lead").pk)
    assert created and not factories.User.objects.filter(username="dry-lead").exists()


def test_confirm_revert_restores_the_previous_run_and_keeps_human_work(routed, client, lead_user, reviewer_user):
    client.force_login(lead_user)
    first = _decisions(routed)
    url = reverse("dashboard:router_panel", args=[routed.pk])
    token = _token(_post(client, url, {**SETTINGS, "audit_rate": "0.5"}).content.decode())
    _post(client, url, {**SETTINGS, "audit_rate": "0.5", TOKEN_FIELD: token})
    assert sum(a for _, _, a in _decisions(routed)) == 2
    profile = reviewer_user.reviewer
    labeled = review_task_claim(reviewer=profile)
    review_label_submit(task=labeled, reviewer=profile, choice=1)
    leased = review_task_claim(reviewer=profile)
    revert_url = reverse("dashboard:router_revert", args=[routed.pk])
    preview = _post(client, revert_url, {})
    body = preview.content.decode()
    assert preview.status_code == 200 and 'data-confirm-step="batch-routing-revert"' in body
    assert _figures(body)["review_labels"] == (1, 1)
    done = _post(client, revert_url, {TOKEN_FIELD: _token(body)})
    assert done.status_code == 200
    started = {labeled.example_id, leased.example_id}
    after = _decisions(routed)
    assert [d for d in after if d[0] not in started] == [d for d in first if d[0] not in started]
    assert ReviewTask.objects.filter(pk=leased.pk, status=ReviewTask.Status.LEASED).exists()
    assert HumanLabel.objects.filter(example_id=labeled.example_id, source=HumanLabel.Source.REVIEW).count() == 1
    assert Batch.objects.get(pk=routed.pk).audit_rate == 0.0  # the earlier run's settings
    assert RoutingRun.objects.filter(batch=routed).first().reverted_from is not None
    assert batch_figures(routed) == {k: a for k, (_, a) in _figures(body).items()}


def test_confirm_revert_without_an_earlier_run_is_409(routed, client, lead_user):
    client.force_login(lead_user)
    refused = _post(client, reverse("dashboard:router_revert", args=[routed.pk]), {})
    assert refused.status_code == 409 and "no earlier routing run" in refused.content.decode()


def test_confirm_rejudge_keeps_every_reviewers_label_and_leased_task(routed, reviewer_user):
    """A finished judge run resets and re-routes the batch: what reviewers started stays."""
    profile = reviewer_user.reviewer
    labeled = review_task_claim(reviewer=profile)
    review_label_submit(task=labeled, reviewer=profile, choice=1)
    leased = review_task_claim(reviewer=profile)
    labels = sorted(HumanLabel.objects.filter(example__batch=routed).values_list("pk", flat=True))
    kept_decisions = sorted(RoutingDecision.objects.filter(example_id__in=[labeled.example_id, leased.example_id])
                            .values_list("pk", flat=True))
    run = JudgeRun.objects.create(batch=routed, status="done")
    batch_rejudged(sender=JudgeRun, run=run, batch=routed)
    batch_route(batch=routed)  # what the queued pipeline does next
    assert sorted(HumanLabel.objects.filter(example__batch=routed).values_list("pk", flat=True)) == labels
    assert ReviewTask.objects.get(pk=leased.pk).status == ReviewTask.Status.LEASED
    assert sorted(RoutingDecision.objects.filter(example_id__in=[labeled.example_id, leased.example_id])
                  .values_list("pk", flat=True)) == kept_decisions
    assert RoutingDecision.objects.filter(example__batch=routed).count() == 6
