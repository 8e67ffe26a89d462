"""Live routing applies the coarse-judgment rule only to sources with history, as the backtest
measures it: a source the training part never had is scored and certified with cross-validation's
own choice, on that choice's own calibration data."""

import json

import pytest
from django.urls import reverse

from bench.coarse_check import coarse_lines
from hybridqc.flows.batches import batch_route
from hybridqc.flows.imports import batch_import
from routing.batches.models import Batch
from routing.decisions.models import RoutingDecision, RoutingRun
from routing.decisions.risk_groups import decision_is_open
from routing.decisions.route import certifications_for, router_stages, seen_sources
from routing.scoring.selection import COARSE_RULE
from routing.training.router_training import router_train
from tests import factories
from tests.conftest import wait_until

LINES = factories.data_lines("llmbar.jsonl")
LLMBAR = [line for line in LINES if json.loads(line)["domain"].startswith("llmbar/")]  # 419 items
MTBENCH = [line for line in LINES if json.loads(line)["domain"].startswith("mtbench/")]  # 200 items


def coarse(lines: list[str], k: int) -> list[str]:
    """Each item with k of its judgments, without probabilities, cut as bench/coarse_check.py does."""
    return coarse_lines(lines, k, domains=("llmbar/", "mtbench/"))


def _coarse_model():
    """A router trained on 300 LLMBar items judged twice each without probabilities."""
    batch_import(batch_name="history", lines=coarse(LLMBAR[:300], 2))
    return router_train(seed=0)


def _open(batch: Batch) -> list[RoutingDecision]:
    """The batch's decisions the certified threshold decided (no rule settled them)."""
    decisions = RoutingDecision.objects.filter(example__batch=batch).select_related("example__domain")
    return [d for d in decisions.order_by("example_id") if decision_is_open(d)]


def test_router_train_keeps_cross_validations_choice_for_sources_without_history(db):
    model = _coarse_model()
    assert model.is_active and model.score_name == "judge_refined"
    assert model.selection["rule"] == COARSE_RULE
    unseen = model.selection["unseen"]
    assert (model.selection["cv_choice"], unseen["score_name"]) == ("order_weighted", "order_weighted")
    assert unseen["seen_sources"] == ["llmbar"] and seen_sources(model) == frozenset({"llmbar"})
    assert model.unseen_blob is None  # order_weighted is a judge-only score: no router of its own
    # its own held-out calibration: the same held-out items, scored with its own score
    assert len(unseen["calibration"]["scores"]) == model.n_calibration == len(model.calibration["scores"])
    assert unseen["calibration"]["agree"] == model.calibration["agree"]  # one stage each: the primary verdict
    assert unseen["calibration"]["scores"] != model.calibration["scores"]


def _tied(lines: list[str]) -> int:
    """Items whose votes split evenly (a rule sends them to humans unscored)."""
    votes = [[j["choice"] for j in json.loads(line)["judgments"]] for line in lines]
    return sum(v.count(1) == v.count(2) for v in votes)


def _route(name: str, lines: list[str]) -> tuple[Batch, RoutingRun]:
    batch = batch_import(batch_name=name, lines=lines, routing_mode="certified", alpha=0.1, delta=0.1).batch
    assert batch_route(batch=batch) == len(lines)
    return batch, RoutingRun.objects.get(batch=batch)


def _stored_matches_recomputed(model, batch: Batch, cert: dict, *, unseen: bool) -> list[RoutingDecision]:
    """The stored certification is its group's own score and calibration on the batch's scores."""
    decisions = _open(batch)
    stages = router_stages(model, [d.example for d in decisions], batch.primary_judge, unseen=unseen)
    [expected] = certifications_for(model, 0.1, 0.1, [stages[0].score], unseen=unseen)
    assert (cert["threshold"], cert["n_calibration"]) == (expected.threshold, model.n_calibration)
    assert [d.score for d in decisions] == pytest.approx(stages[0].score.tolist())
    return decisions


def _route_one_group(name: str, lines: list[str], expected: tuple[str, str, str]):
    """Train on the coarse history, route ``lines`` as one batch: its single certification's
    (group, score, sources) are ``expected``, and it matches the recomputed one."""
    model = _coarse_model()
    batch, run = _route(name, lines)
    [cert] = run.certifications
    assert (cert["group"], cert["score_name"], cert["sources"], run.score_name) == (*expected, "judge_refined")
    unseen = expected[0].endswith("/unseen")
    return model, batch, cert, _stored_matches_recomputed(model, batch, cert, unseen=unseen)


def test_router_routes_a_source_with_history_with_the_coarse_rules_score(db):
    lines = coarse(LLMBAR[300:], 2)
    _, _, cert, decisions = _route_one_group("live-llmbar", lines, ("0.1/0.1", "judge_refined", "with history"))
    assert _tied(lines) == 19 and cert["batch_items_scored"] == len(decisions) == 119 - 19
    kept = [d for d in decisions if d.route == RoutingDecision.Route.JUDGE]
    assert cert["batch_items_kept"] == len(kept) == 95
    assert all("(judge_refined) " in d.reason for d in decisions)
    assert all((d in kept) == (d.score >= cert["threshold"]) for d in decisions)


def test_router_routes_a_source_without_history_with_cross_validations_choice(db):
    lines = coarse(MTBENCH, 2)
    model, batch, cert, decisions = _route_one_group("live-mtbench", lines,
                                                     ("0.1/0.1/unseen", "order_weighted", "without history"))
    assert _tied(lines) == 26 and cert["batch_items_scored"] == len(decisions) == 200 - 26
    # two agreeing votes score 1.0 each: the strictest threshold keeps all 158 held-out items,
    # and their judge errors exceed what alpha allows
    agree = model.selection["unseen"]["calibration"]["agree"]
    assert 158 - sum(agree) == 13
    assert (cert["threshold"], cert["reason"]) == (None, "the strictest threshold keeps 158 calibration items "
                                                         "with 13 judge errors: upper bound 0.118 > alpha 0.10")
    assert cert["batch_items_kept"] == 0
    assert all(d.route == RoutingDecision.Route.HUMAN and d.reason.startswith("nothing certified at 90% agreement")
               for d in decisions)
    # the rule's score would have kept these items on a tie-breaker learned on another source
    stages = router_stages(model, [d.example for d in decisions], batch.primary_judge)
    assert certifications_for(model, 0.1, 0.1, [stages[0].score])[0].threshold is not None


def test_router_panel_and_model_page_show_both_scores(db, client, lead_user):
    model = _coarse_model()
    lines = coarse(LLMBAR[300:] + MTBENCH, 2)  # the LLMBAR part is cut as in the batch above
    batch, run = _route("mixed", lines)
    assert [(c["group"], c["score_name"], c["batch_items_kept"]) for c in run.certifications] == [
        ("0.1/0.1", "judge_refined", 95), ("0.1/0.1/unseen", "order_weighted", 0)]
    scored = [119 - _tied(lines[:119]), 200 - _tied(lines[119:])]
    assert [c["batch_items_scored"] for c in run.certifications] == scored == [100, 178]
    assert len(_open(batch)) == 100 + 178
    client.force_login(lead_user)
    page = client.get(reverse("routing:model")).content.decode()
    assert 'data-unseen-score="order_weighted"' in page and 'data-seen-sources="llmbar"' in page
    assert '<tr data-candidate="order_weighted"><td>order_weighted</td>' in page
    assert "<span class=\"badge\">cross-validation's choice</span>" in page
    panel = client.get(reverse("dashboard:router_panel", args=[batch.pk])).content.decode()
    assert '<code data-score-name="judge_refined">judge_refined</code>, sources with history):' in panel
    assert "alone with order_weighted (sources without history) at 0.90 agreement" in panel
    assert model.version == run.router_model.version


@pytest.mark.worker
def test_router_worker_routes_a_live_batch_with_a_stored_judge_refined_model(celery_worker):
    model = _coarse_model()
    factories.reviewer("worker-rev", prefixes=["llmbar", "mtbench"])
    batch = batch_import(batch_name="live-worker", lines=coarse(LLMBAR[300:], 2), routing_mode="certified",
                         alpha=0.1, delta=0.1, route=True).batch

    def routed() -> bool:
        batch.refresh_from_db()
        return batch.status == Batch.Status.READY

    wait_until(routed, timeout=120, what="the worker to route the batch")
    run = RoutingRun.objects.get(batch=batch)
    [cert] = run.certifications
    assert (run.router_version, run.score_name, cert["score_name"], cert["group"]) == (
        f"router-v{model.version}", "judge_refined", "judge_refined", "0.1/0.1")
    decisions = _stored_matches_recomputed(model, batch, cert, unseen=False)
    assert (cert["batch_items_scored"], cert["batch_items_kept"]) == (len(decisions), 95) == (100, 95)
    assert RoutingDecision.objects.filter(example__batch=batch).count() == 119
