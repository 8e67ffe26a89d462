"""Live routing applies the coarse-judgment rule only to sources with history, as the backtest
measures it: a source the training part never had is scored and certified with cross-validation's
own choice, on that choice's own calibration data."""

import json

import numpy as np
import pytest
from django.urls import reverse

from hybridqc.flows.batches import batch_route
from hybridqc.flows.imports import batch_import
from routing.batches.models import Batch
from routing.decisions.models import RoutingDecision, RoutingRun
from routing.decisions.route import certifications_for, router_stages, seen_sources
from routing.scoring.selection import COARSE_RULE
from routing.training.router_training import router_train
from tests import factories
from tests.conftest import wait_until

LINES = factories.data_lines("llmbar.jsonl")
LLMBAR = [line for line in LINES if json.loads(line)["domain"].startswith("llmbar/")]  # 419 items
MTBENCH = [line for line in LINES if json.loads(line)["domain"].startswith("mtbench/")]  # 200 items


def coarse(lines: list[str], k: int, seed: int = 0) -> list[str]:
    """Each item keeps k of its judgments (the first k of one seeded permutation per item, in file
    order), without probabilities: as bench/coarse_check.py cuts votes, for every domain."""
    rng = np.random.default_rng(seed)
    out = []
    for line in lines:
        row = json.loads(line)
        judgments = row.get("judgments", [])
        keep = sorted(rng.permutation(len(judgments))[:k].tolist())
        row["judgments"] = [{key: v for key, v in judgments[i].items() if key not in ("probability", "logprobs")}
                            for i in keep]
        out.append(json.dumps(row))
    return out


def _coarse_model():
    """A router trained on 300 LLMBar items judged twice each without probabilities."""
    batch_import(batch_name="history", lines=coarse(LLMBAR[:300], 2))
    return router_train(seed=0)


def _open(batch: Batch) -> list[RoutingDecision]:
    return list(RoutingDecision.objects.filter(example__batch=batch, threshold__isnull=False)
                .select_related("example__domain").order_by("example_id"))


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


@pytest.mark.parametrize(("lines", "group", "score_name", "sources"), [
    (LLMBAR[300:], "0.2/0.1", "judge_refined", "with history"),
    (MTBENCH, "0.2/0.1/unseen", "order_weighted", "without history"),
])
def test_router_routes_a_source_without_history_with_its_own_score_and_certification(
        db, lines, group, score_name, sources):
    model = _coarse_model()
    batch = batch_import(batch_name="live", lines=coarse(lines, 2), routing_mode="certified", alpha=0.2,
                         delta=0.1).batch
    assert batch_route(batch=batch) == len(lines)
    run = RoutingRun.objects.get(batch=batch)
    [cert] = run.certifications
    assert (cert["group"], cert["score_name"], cert["sources"], run.score_name) == (
        group, score_name, sources, "judge_refined")
    assert cert["n_calibration"] == model.n_calibration
    decisions = _open(batch)
    assert cert["batch_items_scored"] == len(decisions) > 0
    # the stored certification is the one of this group's own score and calibration, on its batch scores
    unseen = group.endswith("/unseen")
    stages = router_stages(model, [d.example for d in decisions], batch.primary_judge, unseen=unseen)
    [expected] = certifications_for(model, 0.2, 0.1, [stages[0].score], unseen=unseen)
    assert cert["threshold"] == expected.threshold
    assert [d.score for d in decisions] == pytest.approx(stages[0].score.tolist())
    kept = [d for d in decisions if d.route == RoutingDecision.Route.JUDGE]
    assert cert["batch_items_kept"] == len(kept)
    if expected.threshold is not None:
        assert all(f"({score_name}) " in d.reason for d in decisions)
        assert all((d.route == RoutingDecision.Route.JUDGE) == (d.score >= expected.threshold) for d in decisions)
    else:
        assert not kept and all(d.reason.startswith("nothing certified") for d in decisions)


def test_router_panel_and_model_page_show_both_scores(db, client, lead_user):
    model = _coarse_model()
    batch = batch_import(batch_name="mixed", lines=coarse(LLMBAR[300:] + MTBENCH, 2), routing_mode="certified",
                         alpha=0.2, delta=0.1).batch
    batch_route(batch=batch)
    run = RoutingRun.objects.get(batch=batch)
    assert {(c["group"], c["score_name"]) for c in run.certifications} == {
        ("0.2/0.1", "judge_refined"), ("0.2/0.1/unseen", "order_weighted")}
    assert sum(c["batch_items_scored"] for c in run.certifications) == len(_open(batch))
    client.force_login(lead_user)
    page = client.get(reverse("routing:model")).content.decode()
    assert 'data-unseen-score="order_weighted"' in page and 'data-seen-sources="llmbar"' in page
    assert '<tr data-candidate="order_weighted"><td>order_weighted</td>' in page
    assert "<span class=\"badge\">cross-validation's choice</span>" in page
    panel = client.get(reverse("dashboard:router_panel", args=[batch.pk])).content.decode()
    assert 'data-score-name="judge_refined"' in panel or "with judge_refined" in panel
    assert 'data-score-name="order_weighted"' in panel or "with order_weighted" in panel
    assert model.version == run.router_model.version


@pytest.mark.worker
def test_router_worker_routes_a_live_batch_with_a_stored_judge_refined_model(celery_worker):
    model = _coarse_model()
    factories.reviewer("worker-rev", prefixes=["llmbar", "mtbench"])
    batch = batch_import(batch_name="live-worker", lines=coarse(LLMBAR[300:], 2), routing_mode="certified",
                         alpha=0.2, delta=0.1, route=True).batch

    def routed() -> bool:
        batch.refresh_from_db()
        return batch.status == Batch.Status.READY

    wait_until(routed, timeout=120, what="the worker to route the batch")
    run = RoutingRun.objects.get(batch=batch)
    [cert] = run.certifications
    assert (run.router_version, run.score_name, cert["score_name"], cert["group"]) == (
        f"router-v{model.version}", "judge_refined", "judge_refined", "0.2/0.1")
    decisions = _open(batch)
    assert cert["batch_items_scored"] == len(decisions) > 0
    assert RoutingDecision.objects.filter(example__batch=batch).count() == 119
