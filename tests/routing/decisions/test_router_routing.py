import json
import random
import re

import pytest
from django.urls import reverse

from hybridqc.flows.batches import batch_reroute, batch_route
from hybridqc.flows.imports import batch_import
from reviewers.capacity import remaining_capacity, roster_remaining_capacity
from reviewers.models import HumanLabel, ReviewerProfile, ReviewTask
from routing.batches.models import Batch
from routing.batches.selectors import batch_domains
from routing.decisions.audit import audit_sample
from routing.decisions.models import RoutingDecision, RoutingRun
from routing.decisions.route import COLD_START, certification_for, router_of
from routing.scoring.candidates import CANDIDATES
from routing.scoring.models import RouterModel
from routing.training.backtest import labeled_items
from routing.training.router_training import router_retrain_due, router_train
from routing.training.tasks import router_retrain_check
from tests import factories


def _history_and_model() -> RouterModel:
    return factories.router_trained()


def _live(mode: str, **fields) -> Batch:
    return factories.llmbar_live(mode, **fields)


def test_router_train_stores_versioned_model_with_held_out_metrics(db):
    model = _history_and_model()
    assert model.version == 1 and model.is_active
    items, _ = labeled_items(factories.data_lines("llmbar.jsonl", 400))
    usable = sum(it.verdict is not None for it in items)  # tied judge votes cannot be trained on
    assert usable == 394
    assert (model.n_train, model.n_calibration) == (394 - 236, 236)  # 60% held out
    assert set(model.metrics) == {"auroc", "ece", "brier", "agreement", "reliability"}
    assert 0.5 < model.metrics["auroc"] <= 1.0
    assert len(model.calibration["scores"]) == model.n_calibration == len(model.calibration["agree"])
    second = router_train(seed=1)
    assert second.version == 2
    assert list(RouterModel.objects.filter(is_active=True).values_list("version", flat=True)) == [2]


def test_router_learned_routing_stores_version_and_score(db, reviewer_user):
    model = _history_and_model()
    batch = _live("certified", alpha=0.2, delta=0.1)
    assert batch_route(batch=batch) == 219
    decisions = list(RoutingDecision.objects.filter(example__batch=batch))
    assert {d.router_version for d in decisions} == {f"router-v{model.version}"}
    scored = [d for d in decisions if d.score is not None]
    assert len(scored) == 199  # the 20 others have a tied judge vote: no verdict, no score
    run = RoutingRun.objects.get(batch=batch)
    assert (run.mode, run.router_version, run.router_model_id) == ("certified", "router-v1", model.pk)
    assert {d.run_id for d in decisions} == {run.pk}
    [cert] = run.certifications  # one risk group: no domain overrides
    assert (cert["alpha"], cert["delta"], cert["group"]) == (0.2, 0.1, "0.2/0.1")
    threshold = cert["threshold"]
    population = certification_for(model, 0.2, 0.1)
    assert population.threshold is not None and threshold >= population.threshold
    kept = [d for d in decisions if d.route == RoutingDecision.Route.JUDGE]
    assert kept and all(d.score >= threshold and d.threshold == threshold for d in kept)
    assert all(d.route == RoutingDecision.Route.HUMAN for d in scored if d.score < threshold)
    assert cert["batch_items_kept"] == len(kept) == run.n_judge_kept
    assert cert["batch_items_scored"] == sum(d.threshold is not None for d in decisions)
    assert cert["n_calibration"] == model.n_calibration
    assert (cert["calibration_errors"], cert["bound"]) == (cert["errors"], cert["ucb"])


def test_router_cold_start_sends_everything_to_humans(db, reviewer_user):
    batch = _live("certified")
    batch_route(batch=batch)
    decisions = RoutingDecision.objects.filter(example__batch=batch)
    assert decisions.count() == 219
    assert not decisions.filter(route=RoutingDecision.Route.JUDGE).exists()
    assert decisions.filter(reason=COLD_START).count() == decisions.exclude(reason__contains="vote").count()
    assert set(decisions.values_list("router_version", flat=True)) == {"router-cold-start"}


def test_router_budget_mode_respects_capacity(db):
    _history_and_model()
    factories.reviewer(username="r1", prefixes=["llmbar", "mtbench"], capacity_per_day=40)
    factories.reviewer(username="r2", prefixes=["llmbar"], capacity_per_day=25)
    batch = _live("budget", audit_rate=0.0, audit_min_per_domain=0)
    batch_route(batch=batch)
    decisions = RoutingDecision.objects.filter(example__batch=batch)
    assert decisions.filter(route=RoutingDecision.Route.HUMAN).count() == 65
    assert decisions.filter(route=RoutingDecision.Route.JUDGE).count() == 219 - 65
    humans = decisions.filter(route="human").exclude(score=None)
    kept = decisions.filter(route="judge")
    assert max(humans.values_list("score", flat=True)) <= min(kept.values_list("score", flat=True))


def _unanimous_live_lines() -> list[str]:
    """The live LLMBar lines whose judge votes are unanimous: no rule sends any of them to humans,
    so budget mode's human share is exactly the roster's remaining capacity."""
    lines = factories.data_lines("llmbar.jsonl")[400:]
    return [line for line in lines if len({j.get("choice") for j in json.loads(line)["judgments"]} - {None}) == 1]


def test_router_budget_mode_uses_the_capacity_assignment_uses(db):
    _history_and_model()
    reviewer = factories.profile("r1", prefixes=("llmbar", "mtbench"), capacity_per_day=10)
    for example in factories.make_examples(3, name="labeled-today", domain="mtbench/writing"):
        HumanLabel.objects.create(example=example, reviewer=reviewer, source=HumanLabel.Source.REVIEW, choice=1)
    waiting = factories.make_tasks(2, name="waiting", domain="mtbench/writing")
    assert [t.assignee_id for t in waiting] == [reviewer.pk, reviewer.pk]
    batch = batch_import(batch_name="live-budget", lines=_unanimous_live_lines(), routing_mode="budget",
                         audit_rate=0.0, audit_min_per_domain=0).batch
    assert remaining_capacity([reviewer.pk]) == {reviewer.pk: 5}  # 10 - 3 labels today - 2 waiting
    assert roster_remaining_capacity(batch_domains(batch)) == 5
    assert batch_route(batch=batch) == 170
    decisions = RoutingDecision.objects.filter(example__batch=batch)
    humans = decisions.filter(route=RoutingDecision.Route.HUMAN)
    assert humans.count() == 5 and all(d.reason.startswith("budget: among the 5 least") for d in humans)
    kept_scores = decisions.filter(route=RoutingDecision.Route.JUDGE).values_list("score", flat=True)
    assert max(humans.values_list("score", flat=True)) <= min(kept_scores)
    routed = ReviewTask.objects.filter(example__batch=batch, kind=ReviewTask.Kind.ROUTED)
    assert list(routed.values_list("assignee_id", flat=True)) == [reviewer.pk] * 5
    assert remaining_capacity([reviewer.pk]) == {reviewer.pk: 0}
    assert roster_remaining_capacity(batch_domains(batch)) == 0


def test_router_panel_budget_reports_weaker_guarantee(db, lead_user, client):
    _history_and_model()
    factories.reviewer(username="r1", prefixes=["llmbar", "mtbench"], capacity_per_day=10)
    batch = _live("budget", alpha=0.02)
    batch_route(batch=batch)
    client.force_login(lead_user)
    response = client.get(reverse("dashboard:router_panel", args=[batch.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-capacity="0"' in body  # capacity 10, all taken by the batch's tasks
    assert "weaker than the target 0.98" in body


def _scored_kept(n: int) -> tuple[Batch, list[RoutingDecision]]:
    batch = factories.batch("audits", items=[factories.pairwise_item(i) for i in range(n)]).batch
    scores = list(range(n))
    random.Random(1).shuffle(scores)
    decisions = [RoutingDecision(example=e, route="judge", score=s / n, reason="")
                 for e, s in zip(batch.examples.select_related("domain"), scores, strict=True)]
    return batch, decisions


def test_router_audit_sample_is_stratified_by_score(db):
    batch, decisions = _scored_kept(100)
    batch.audit_rate, batch.audit_min_per_domain = 0.3, 0
    chosen = audit_sample(batch, decisions)
    assert len(chosen) == 30
    ranks = sorted(round(d.score * 100) for d, _ in chosen)
    bounds = [round(i * 100 / 30) for i in range(31)]
    sizes = [hi - lo for lo, hi in zip(bounds, bounds[1:], strict=False)]
    assert [sum(lo <= r < hi for r in ranks) for lo, hi in zip(bounds, bounds[1:], strict=False)] == [1] * 30
    by_rank = {round(d.score * 100): p for d, p in chosen}
    assert [by_rank[r] for r in sorted(by_rank)] == [1 / size for size in sizes]


def test_router_audit_sample_stays_within_its_rate_when_the_floor_does_not_fit(db):
    batch, decisions = _scored_kept(100)
    batch.audit_rate, batch.audit_min_per_domain = 0.05, 30
    assert len(audit_sample(batch, decisions)) == 5  # the floor of 30 would be 30% of the kept items
    assert len(audit_sample(batch, decisions[:12])) == 1  # round(0.05 * 12)


def test_router_panel_post_reroutes_unreviewed_items(db, lead_user, reviewer_user, client):
    _history_and_model()
    batch = _live("threshold")
    batch_route(batch=batch)
    assert set(RoutingDecision.objects.filter(example__batch=batch).values_list("router_version", flat=True)) == {
        "threshold-v1"}
    client.force_login(lead_user)
    url = reverse("dashboard:router_panel", args=[batch.pk])
    bad = client.post(url, {"routing_mode": "certified", "alpha": "1.5", "delta": "0.1", "audit_rate": "0.05"},
                      HTTP_HX_REQUEST="true")
    assert bad.status_code == 400 and "must be between 0.0 and 1.0" in bad.content.decode()
    posted = {"routing_mode": "certified", "alpha": "0.2", "delta": "0.1", "audit_rate": "0.05"}
    preview = client.post(url, posted, HTTP_HX_REQUEST="true")
    assert preview.status_code == 200 and 'data-confirm-step="batch-reroute"' in preview.content.decode()
    token = re.search(r'name="confirm_token" value="([^"]+)"', preview.content.decode()).group(1)
    ok = client.post(url, {**posted, "confirm_token": token}, HTTP_HX_REQUEST="true")
    assert ok.status_code == 200
    assert 'data-mode="certified"' in ok.content.decode()
    assert set(RoutingDecision.objects.filter(example__batch=batch).values_list("router_version", flat=True)) == {
        "router-v1"}
    routed = ReviewTask.objects.filter(example__batch=batch, kind="routed").count()
    assert routed == RoutingDecision.objects.filter(example__batch=batch, route="human").count()


@pytest.mark.parametrize("name", ["routing:model", "routing:backtest"])
def test_router_pages_permissions(db, client, reviewer_user, lead_user, name):
    client.force_login(reviewer_user)
    assert client.get(reverse(name)).status_code == 403
    client.force_login(lead_user)
    response = client.get(reverse(name))
    assert response.status_code == 200


def test_router_model_page_shows_metrics_and_reliability_chart_data(db, client, lead_user):
    cold = client
    cold.force_login(lead_user)
    assert "No router trained yet" in cold.get(reverse("routing:model")).content.decode()
    model = _history_and_model()
    body = client.get(reverse("routing:model")).content.decode()
    assert f'data-version="{model.version}"' in body
    bins = model.metrics["reliability"]
    # The chart's data (json_script, no inline script) and the table of bins, one row each.
    embedded = re.search(r'<script id="reliability-data" type="application/json">(.*?)</script>', body, re.S)
    assert json.loads(embedded.group(1)) == [{k: b[k] for k in ("lo", "hi", "predicted", "observed", "n")}
                                             for b in bins]
    assert "<svg" not in body and 'data-chart="reliability"' in body
    assert re.findall(r'<tr data-n="(\d+)">', body) == [str(b["n"]) for b in bins]
    assert f'data-auroc="{model.metrics["auroc"]}"' in body
    assert "ltt-steps" in body
    # 394 usable items: 158 train the choice (cross-validation), 236 certify it
    assert model.selection["rule"] == "cross-validation (5 random folds)"
    assert model.score_name in CANDIDATES and set(model.selection["figures"]) == set(CANDIDATES)
    assert f'data-score="{model.score_name}"' in body
    assert body.count("<tr data-candidate=") == len(CANDIDATES)


def test_router_learned_routing_reasons_name_the_chosen_score(db, reviewer_user):
    model = _history_and_model()
    batch = _live("certified", alpha=0.2, delta=0.1)
    batch_route(batch=batch)
    kept = RoutingDecision.objects.filter(example__batch=batch, route=RoutingDecision.Route.JUDGE)
    assert kept.exists()
    assert all(f"({model.score_name}) >= certified threshold" in d.reason for d in kept)


def test_router_retrain_check_trains_when_enough_labels(db):
    assert router_retrain_check() is None  # no labels: nothing to train
    batch_import(batch_name="history", lines=factories.data_lines("llmbar.jsonl", 300))
    assert router_retrain_due()
    assert router_retrain_check() == 1
    assert not router_retrain_due()
    assert router_retrain_check() is None


def test_router_retrain_view_requires_lead_and_post(db, client, reviewer_user, lead_user):
    batch_import(batch_name="history", lines=factories.data_lines("llmbar.jsonl", 300))
    url = reverse("routing:router_retrain")
    client.force_login(reviewer_user)
    assert client.post(url).status_code == 403
    client.force_login(lead_user)
    assert client.get(url).status_code == 405
    assert ReviewerProfile.objects.count() == 1


def test_router_panel_permissions_and_full_page(db, client, reviewer_user, lead_user):
    batch = _live("certified")
    url = reverse("dashboard:router_panel", args=[batch.pk])
    client.force_login(reviewer_user)
    assert client.get(url).status_code == 403
    assert client.post(url, {"routing_mode": "budget"}).status_code == 403
    client.force_login(lead_user)
    page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "<html" in body and "cold start" in body and 'data-mode="certified"' in body
    assert client.get(reverse("dashboard:router_panel", args=[999999])).status_code == 404


def test_router_with_other_feature_spec_is_refused_until_retrained(db, reviewer_user):
    model = _history_and_model()
    RouterModel.objects.filter(pk=model.pk).update(feature_spec={**model.feature_spec, "version": 2})
    assert router_retrain_due()  # no new labels, but the active model reads other features
    batch = _live("certified", alpha=0.2, delta=0.1)
    batch_route(batch=batch)
    decisions = RoutingDecision.objects.filter(example__batch=batch)
    assert decisions.count() == 219
    assert not decisions.filter(route=RoutingDecision.Route.JUDGE).exists()
    assert not decisions.exclude(score=None).exists()
    assert set(decisions.values_list("router_version", flat=True)) == {"router-cold-start"}
    stale = decisions.filter(reason__contains="trained on feature spec v2, this code computes v3").count()
    assert stale == decisions.exclude(reason__contains="vote").count()
    retrained = router_train(seed=0)
    assert not router_retrain_due() and retrained.version == 2
    batch_reroute(batch=batch)
    assert decisions.filter(route=RoutingDecision.Route.JUDGE).exists()


def test_router_of_loads_a_stored_model_once(db):
    model = _history_and_model()
    first = router_of(model)
    assert router_of(RouterModel.objects.get(pk=model.pk)) is first
    assert router_of(router_train(seed=1)) is not first
