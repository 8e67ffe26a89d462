"""A router whose choice for sources without history is the plain learned score, with its own
fit (``unseen_blob``): trained on 250 LLMBar items cut to 4 votes without probabilities, the
coarse rule picks ``judge_refined`` for LLMBar and cross-validation's own choice, ``learned``,
is kept for the other sources (MT-Bench here). Certified and budget routing score MT-Bench items
with that fit and bound them on its own calibration; LLMBar items keep the main score."""

import json

import numpy as np
import pytest
from django.urls import reverse

from bench.coarse_check import coarse_lines
from hybridqc.flows.batches import batch_route
from hybridqc.flows.imports import batch_import
from routing.batches.models import Batch
from routing.decisions.models import RoutingDecision, RoutingRun
from routing.decisions.risk_groups import decision_is_open
from routing.decisions.route import calibration_stages, router_of, router_stages
from routing.scoring.budget import capacity_shares
from routing.scoring.certify import bound_at, cp_upper
from routing.scoring.selection import COARSE_RULE
from routing.scoring.selectors import example_inputs
from routing.training.router_training import router_train
from tests import factories

LINES = factories.data_lines("llmbar.jsonl")
LLMBAR = [line for line in LINES if json.loads(line)["domain"].startswith("llmbar/")]  # 419 items
MTBENCH = [line for line in LINES if json.loads(line)["domain"].startswith("mtbench/")]  # 200 items


def coarse(lines: list[str]) -> list[str]:
    """Each item with 4 of its judgments, without probabilities (bench/coarse_check.py's cut)."""
    return coarse_lines(lines, 4, domains=("llmbar/", "mtbench/"))


def _model():
    batch_import(batch_name="history", lines=coarse(LLMBAR[:250]))
    return router_train(seed=0)


def _decisions(batch: Batch, prefix: str) -> list[RoutingDecision]:
    """The batch's decisions of one source, in example order."""
    rows = RoutingDecision.objects.filter(example__batch=batch, example__domain__path__startswith=prefix)
    return list(rows.select_related("example__domain").order_by("example_id"))


def _unseen_scores(model, batch: Batch, decisions: list[RoutingDecision]) -> np.ndarray:
    """What the model's own fit for sources without history says of these decisions' examples."""
    return router_of(model, unseen=True).predict(example_inputs([d.example for d in decisions], batch.primary_judge))


def test_router_train_stores_a_learned_unseen_choice_with_its_own_fit(db):
    model = _model()
    selection = model.selection
    assert (model.score_name, selection["rule"], selection["cv_choice"]) == ("judge_refined", COARSE_RULE, "learned")
    figures = {name: selection["figures"][name] for name in ("order_weighted", "learned", "learned_text",
                                                             "judge_refined")}
    assert figures == {"order_weighted": 0.1442, "learned": 0.5525, "learned_text": 0.3728, "judge_refined": 0.3714}
    unseen = selection["unseen"]
    assert (unseen["score_name"], unseen["seen_sources"], unseen["rule"]) == (
        "learned", ["llmbar"], "cross-validation's own choice, for sources without labeled history")
    assert model.unseen_blob is not None and bytes(model.unseen_blob) != bytes(model.blob)
    assert (router_of(model).text, router_of(model, unseen=True).text) == (True, False)  # learned: no words
    cal = unseen["calibration"]
    assert len(cal["scores"]) == model.n_calibration == 140 and cal["agree"] == model.calibration["agree"]
    default = cal["default"]
    assert (default["threshold"], default["n_kept"], default["errors"]) == (pytest.approx(0.9103257721412632), 70, 3)


def _route(name: str, lines: list[str], mode: str = "certified", **fields) -> tuple[Batch, RoutingRun]:
    batch = batch_import(batch_name=name, lines=lines, routing_mode=mode, audit_rate=0.0, audit_min_per_domain=0,
                         **fields).batch
    assert batch_route(batch=batch) == len(lines)
    return batch, RoutingRun.objects.get(batch=batch)


def test_router_certifies_a_source_without_history_with_the_unseen_fit(db):
    model = _model()
    batch, run = _route("mixed", coarse(LLMBAR[250:]) + coarse(MTBENCH), alpha=0.15, delta=0.1)
    seen_cert, unseen_cert = run.certifications
    assert [(c["group"], c["score_name"], c["sources"]) for c in run.certifications] == [
        ("0.15/0.1", "judge_refined", "with history"), ("0.15/0.1/unseen", "learned", "without history")]
    unseen = [d for d in _decisions(batch, "mtbench/") if decision_is_open(d)]
    expected = _unseen_scores(model, batch, unseen)
    assert [d.score for d in unseen] == pytest.approx(expected.tolist(), abs=1e-12)
    main = router_of(model).predict(example_inputs([d.example for d in unseen], batch.primary_judge))
    assert round(float(np.abs(main - expected).max()), 4) == 0.0486  # the text fit would score them otherwise
    scores, agree = calibration_stages(model, unseen=True)[0]
    threshold = unseen_cert["threshold"]
    kept = scores >= threshold
    assert (threshold, unseen_cert["n_calibration"]) == (pytest.approx(0.33521900316647213), 140)
    counted = (int(kept.sum()), int((agree[kept] == 0).sum()))
    assert (unseen_cert["n_kept"], unseen_cert["calibration_errors"]) == counted == (136, 12)
    assert unseen_cert["bound"] == cp_upper(12, 136, 0.1) == pytest.approx(0.12795150897984583)
    assert (unseen_cert["batch_items_scored"], unseen_cert["batch_items_kept"]) == (len(unseen), 170) == (180, 170)
    assert all((d.route == RoutingDecision.Route.JUDGE) == (d.score >= threshold) for d in unseen)
    assert all("(learned) " in d.reason for d in unseen)
    seen = [d for d in _decisions(batch, "llmbar/") if decision_is_open(d)]
    [stage] = router_stages(model, [d.example for d in seen], batch.primary_judge)
    assert [d.score for d in seen] == pytest.approx(stage.score.tolist(), abs=1e-12)
    assert all("(judge_refined) " in d.reason for d in seen) and seen_cert["batch_items_scored"] == len(seen) == 157


def _group_decisions(batch: Batch) -> dict[str, list[RoutingDecision]]:
    return {"with history": [d for d in _decisions(batch, "llmbar/") if d.reason.startswith("budget")],
            "without history": [d for d in _decisions(batch, "mtbench/") if d.reason.startswith("budget")]}


def test_router_budget_splits_capacity_between_sources_with_and_without_history(db, client, lead_user):
    model = _model()
    factories.reviewer(username="r1", prefixes=["llmbar", "mtbench"], capacity_per_day=100)
    batch, run = _route("budget-mixed", coarse(LLMBAR[250:]) + coarse(MTBENCH), mode="budget")
    groups = _group_decisions(batch)
    n_rule = 369 - 157 - 180  # tied votes: a rule sends them to humans, using capacity first
    assert [len(g) for g in groups.values()] == [157, 180] and run.budget["capacity"] == 100 - n_rule == 68
    # 68 * 157 / 337 = 31.68 and 68 * 180 / 337 = 36.32: floors 31 + 36, the one left to the larger remainder
    assert capacity_shares([157, 180], 68) == [32, 36]
    stored = run.budget["groups"]
    assert [(g["sources"], g["score_name"], g["n_items"], g["capacity"], g["n_kept"]) for g in stored] == [
        ("with history", "judge_refined", 157, 32, 125), ("without history", "learned", 180, 36, 144)]
    unseen = groups["without history"]
    assert [d.score for d in unseen] == pytest.approx(_unseen_scores(model, batch, unseen).tolist(), abs=1e-12)
    for g, (unseen_group, decisions) in zip(stored, enumerate(groups.values()), strict=True):
        humans = [d.score for d in decisions if d.route == RoutingDecision.Route.HUMAN]
        kept = [d.score for d in decisions if d.route == RoutingDecision.Route.JUDGE]
        assert (len(humans), len(kept)) == (g["capacity"], g["n_kept"]) and max(humans) <= min(kept) == g["threshold"]
        assert {d.threshold for d in decisions} == {g["threshold"]}
        assert {d.reason for d in decisions if d.route == RoutingDecision.Route.HUMAN} == {
            f"budget: among the {g['capacity']} least confident (by {g['score_name']}, the share of the roster "
            f"capacity for sources {g['sources']})"}
        assert all(d.reason.endswith(f"({g['score_name']}) kept (beyond the share of the roster capacity for "
                                     f"sources {g['sources']})") for d in decisions if d.route == "judge")
        scores, agree = calibration_stages(model, unseen=bool(unseen_group))[0]
        # two groups keep items: each bound at delta / 2, so both hold with confidence 1 - delta
        assert (g["n_calibration_kept"], g["errors"], g["ucb"]) == bound_at(scores, agree, g["threshold"], delta=0.05)
        assert g["delta"] == 0.05 and g["n_calibration"] == 140
    (s, u) = stored
    assert (s["n_calibration_kept"], s["errors"], u["n_calibration_kept"], u["errors"]) == (119, 3, 133, 9)
    assert (s["ucb"], u["ucb"]) == (cp_upper(3, 119, 0.05), cp_upper(9, 133, 0.05))
    assert run.budget["ucb"] == pytest.approx((125 * s["ucb"] + 144 * u["ucb"]) / 269)
    assert round(run.budget["guarantee"], 4) == 0.9087
    assert run.budget["threshold"] is None and run.budget["n_calibration_kept"] is None
    client.force_login(lead_user)
    panel = client.get(reverse("dashboard:router_panel", args=[batch.pk])).content.decode()
    assert '<li data-budget-group="without history">' in panel and 'data-capacity-share="36"' in panel
    assert f'data-guarantee="{run.budget["guarantee"]}"' in panel
