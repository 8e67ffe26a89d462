"""The confirmation step of re-judging a batch, "Retrain now" and sending a domain to humans
always: the first POST shows what will be replaced, kept and moved (figures counted by hand
below) and changes nothing; the token confirms exactly that state, and a state that moved since
is refused with 409 and a fresh preview."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from hybridqc.confirm import TOKEN_FIELD
from hybridqc.flows.batches import batch_reroute, batch_route
from hybridqc.flows.previews_inputs import batch_rejudge_figures
from reviewers.models import HumanLabel
from reviewers.services import review_label_submit, review_task_claim
from routing.batches.models import Batch, Domain
from routing.decisions.models import RoutingDecision
from routing.judging.models import JudgeRun
from routing.monitoring.models import Alarm
from routing.training.models import RetrainJob
from tests import factories
from tests.support.confirm import confirm_token

TIED = [{"judge": "judge-x", "order": "ab", "choice": 1}, {"judge": "judge-x", "order": "ba", "choice": 2}]
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def routed(db, settings):
    """Threshold mode, no audits: 4 unanimous items kept by the judge, 2 tied ones to humans;
    every item carries one imported label and two judge-x verdicts."""
    settings.REVIEW_SECOND_SHARE = 0.0
    items = [factories.pairwise_item(i) for i in range(4)] + [factories.pairwise_item(i, judgments=TIED)
                                                              for i in range(4, 6)]
    batch = factories.batch("inputs-b", items=items, routing_mode="threshold", audit_rate=0.0,
                            audit_min_per_domain=0).batch
    batch_route(batch=batch)
    return batch


def _figures(body: str) -> dict[str, tuple[str, str]]:
    rows = re.findall(r'data-figure="(\w+)" data-before="([^"]*)" data-after="([^"]*)"', body)
    return {k: (b, a) for k, b, a in rows}


def _facts(body: str) -> dict[str, str]:
    return dict(re.findall(r'data-fact="(\w+)">([^<]*)<', body))


def _label_one(reviewer_user) -> int:
    task = review_task_claim(reviewer=reviewer_user.reviewer)
    review_label_submit(task=task, reviewer=reviewer_user.reviewer, choice=1)
    return task.example_id


def _decisions(batch: Batch) -> list[tuple[int, str, bool]]:
    return sorted(RoutingDecision.objects.filter(example__batch=batch).values_list("example_id", "route", "audit"))


def test_confirm_rejudge_preview_counts_what_is_replaced_and_kept(routed, client, lead_user, reviewer_user):
    _label_one(reviewer_user)  # one tied item labeled: it keeps its decision; the other's task is untaken
    config = factories.judge_config("http://127.0.0.1:9/v1")
    client.force_login(lead_user)
    decisions = _decisions(routed)
    preview = client.post(reverse("dashboard:judge-start", args=[routed.pk]), {"judge_config": config.pk}, **HTMX)
    body = preview.content.decode()
    assert preview.status_code == 200 and 'data-confirm-step="batch-rejudge"' in body
    assert _figures(body) == {
        "judge": ("judge-x", "fake-judge@v1"),
        "verdicts": ("12", "12"),  # 6 items x 2 orders, 1 variant, 1 sample
        "remade": ("5", "5"), "kept": ("1", "1"),  # 6 decisions, 1 on the labeled item
        "untaken": ("1", "0"),  # the other tied item's open task
        "labels": ("7", "7"),  # 6 imported + 1 reviewer's
        "agreement": ("unmeasured", "recomputed after judging"),  # no audit yet
        "override": ("unmeasured", "recomputed after judging"),  # routed items are ties: no verdict to override
    }
    assert not JudgeRun.objects.exists() and _decisions(routed) == decisions


def test_confirm_rejudge_figures_show_the_rates_now_to_three_places(routed):
    config = factories.judge_config("http://127.0.0.1:9/v1")
    now, after = batch_rejudge_figures(batch=routed, config=config, rates={"agreement": 0.76, "override": 0.25})
    assert (now["agreement"], now["override"]) == ("0.760", "0.250")
    assert after["agreement"] == after["override"] == "recomputed after judging"


def test_confirm_rejudge_confirmation_starts_the_run(routed, client, lead_user):
    config = factories.judge_config("http://127.0.0.1:9/v1")
    client.force_login(lead_user)
    url = reverse("dashboard:judge-start", args=[routed.pk])
    token = confirm_token(client.post(url, {"judge_config": config.pk}).content.decode())
    done = client.post(url, {"judge_config": config.pk, TOKEN_FIELD: token})
    assert done.status_code == 302 and done["Location"] == reverse("routing:judge_panel", args=[routed.pk])
    run = JudgeRun.objects.get(batch=routed)
    assert (run.judge_config_id, run.total) == (config.pk, 12)
    assert Batch.objects.get(pk=routed.pk).status == Batch.Status.JUDGING


def test_confirm_rejudge_refuses_409_after_a_label_since_the_preview(routed, client, lead_user, reviewer_user):
    config = factories.judge_config("http://127.0.0.1:9/v1")
    client.force_login(lead_user)
    url = reverse("dashboard:judge-start", args=[routed.pk])
    token = confirm_token(client.post(url, {"judge_config": config.pk}, **HTMX).content.decode())
    _label_one(reviewer_user)
    refused = client.post(url, {"judge_config": config.pk, TOKEN_FIELD: token}, **HTMX)
    body = refused.content.decode()
    assert refused.status_code == 409 and "changed since the preview" in body
    assert confirm_token(body) != token and _figures(body)["labels"] == ("7", "7")
    assert not JudgeRun.objects.exists()


def test_confirm_rejudge_forged_token_is_400_naming_the_field(routed, client, lead_user):
    config = factories.judge_config("http://127.0.0.1:9/v1")
    client.force_login(lead_user)
    url = reverse("dashboard:judge-start", args=[routed.pk])
    refused = client.post(url, {"judge_config": config.pk, TOKEN_FIELD: "forged"}, **HTMX)
    assert refused.status_code == 400 and TOKEN_FIELD in refused.content.decode()
    assert not JudgeRun.objects.exists()


def _alarm(domain: str = "test") -> Alarm:
    return Alarm.objects.create(kind=Alarm.Kind.AGREEMENT_DRIFT, domain=domain, period="2026-11", p_value=0.01,
                                effect=-0.2, message="agreement fell")


def test_confirm_always_human_preview_counts_what_moves_and_the_next_routing_moves_it(routed, client, lead_user,
                                                                                      reviewer_user):
    _label_one(reviewer_user)
    alarm = _alarm()
    client.force_login(lead_user)
    url = reverse("dashboard:alarm-always-human", args=[alarm.pk])
    preview = client.post(url, **HTMX)
    body = preview.content.decode()
    assert preview.status_code == 200 and f'id="alarm-{alarm.pk}"' in body
    # test/general is the one domain under "test"; 4 items kept by the judge, 2 routed to humans.
    assert _figures(body) == {"domains": ("0", "1"), "judge_kept": ("4", "0"), "routed_to_human": ("2", "6")}
    assert not Domain.objects.get(path="test/general").always_human and Alarm.objects.get(pk=alarm.pk).status == "open"
    done = client.post(url, {TOKEN_FIELD: confirm_token(body)}, **HTMX)
    assert done.status_code == 200 and Alarm.objects.get(pk=alarm.pk).status == Alarm.Status.ALWAYS_HUMAN
    assert Domain.objects.get(path="test/general").always_human
    batch_reroute(batch=routed)
    assert RoutingDecision.objects.filter(example__batch=routed, route="human").count() == 6


def test_confirm_always_human_without_js_is_a_page_and_a_forged_token_changes_nothing(routed, client, lead_user):
    alarm = _alarm()
    client.force_login(lead_user)
    url = reverse("dashboard:alarm-always-human", args=[alarm.pk])
    page = client.post(url)
    assert page.status_code == 200 and "<html" in page.content.decode()
    assert 'data-confirm-step="domain-always-human"' in page.content.decode()
    refused = client.post(url, {TOKEN_FIELD: "forged"})
    assert refused.status_code == 400 and TOKEN_FIELD in refused.content.decode()
    assert not Domain.objects.get(path="test/general").always_human
    done = client.post(url, {TOKEN_FIELD: confirm_token(page.content.decode())})
    assert done.status_code == 302 and Domain.objects.get(path="test/general").always_human


def test_confirm_always_human_on_a_closed_alarm_has_no_preview_and_changes_nothing(routed, client, lead_user):
    alarm = _alarm()
    Alarm.objects.filter(pk=alarm.pk).update(status=Alarm.Status.DISMISSED)
    client.force_login(lead_user)
    answer = client.post(reverse("dashboard:alarm-always-human", args=[alarm.pk]), **HTMX)
    body = answer.content.decode()
    assert answer.status_code == 200 and f'id="alarm-{alarm.pk}"' in body and "data-confirm-step" not in body
    assert Alarm.objects.get(pk=alarm.pk).status == Alarm.Status.DISMISSED
    assert not Domain.objects.get(path="test/general").always_human


def test_confirm_retrain_preview_states_the_model_the_labels_and_the_rule(db, client, lead_user):
    factories.batch("rt", items=[factories.pairwise_item(i) for i in range(5)])
    client.force_login(lead_user)
    preview = client.post(reverse("routing:router_retrain"))
    body = preview.content.decode()
    assert preview.status_code == 200 and 'data-confirm-step="router-retrain"' in body
    assert _facts(body) == {"active": "none (cold start)", "train_on": "5", "labels": "5",
                            "rule": "There is no active router, so the new version becomes the active one."}
    assert not RetrainJob.objects.exists()
    done = client.post(reverse("routing:router_retrain"), {TOKEN_FIELD: confirm_token(body)})
    assert done.status_code == 302 and RetrainJob.objects.get().status == RetrainJob.Status.QUEUED


def test_confirm_retrain_names_the_champion_and_refuses_409_after_new_labels(db, client, lead_user):
    factories.router_trained()
    client.force_login(lead_user)
    body = client.post(reverse("routing:router_retrain"), **HTMX).content.decode()
    facts = _facts(body)
    assert facts["active"] == "v1" and facts["rule"].startswith("The new version replaces v1 only if it keeps")
    factories.batch("rt-more", items=[factories.pairwise_item(i) for i in range(2)])  # 2 new labels
    refused = client.post(reverse("routing:router_retrain"), {TOKEN_FIELD: confirm_token(body)}, **HTMX)
    assert refused.status_code == 409 and not RetrainJob.objects.exists()
    assert int(_facts(refused.content.decode())["labels"]) == int(facts["labels"]) + 2
    assert HumanLabel.objects.count() == int(facts["labels"]) + 2
