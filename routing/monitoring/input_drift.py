"""Input drift: does a new batch look like the data the active router learned from?

Two tests on the router's own features (``hashed_features``, as the router hashes them):
a domain classifier (logistic regression telling reference items from the batch's, scored out
of fold) whose AUC is the drift score, its p-value from the Mann-Whitney U test on those scores;
and a two-sample Kolmogorov-Smirnov test on the judge's confidence. The batch is flagged when the
Bonferroni-combined p-value is below ``INPUT_DRIFT_ALPHA`` and the effect is large enough (AUC
at least ``INPUT_DRIFT_MIN_AUC``, or a KS distance of at least 0.2), so a large batch never flags
a trivial difference. The result is stored on the batch; pages and reports read it.

It is computed at the end of an import that brings judgments while a router is active (so a
batch imported with its judgments and not routed has it too), and after each routing; either
time only when what it was computed on changed (``drift_basis``: the router compared with, the
number of examples, the primary judge), so a batch routed by the router it was measured against
at import is not measured again."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np
from django.conf import settings
from scipy.stats import ks_2samp, mannwhitneyu
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from routing.batches.models import Batch, Example
from routing.decisions.models import RoutingDecision
from routing.judging.models import Judgment
from routing.scoring.models import RouterModel
from routing.scoring.selectors import example_inputs, router_active
from routing.scoring.vectorized import ItemInput, hashed_column, hashed_features

METHOD = "domain classifier AUC (logistic, 5-fold, router features) + KS on judge confidence"
MIN_ITEMS = 20
MAX_REFERENCE = 2000
MIN_KS_DISTANCE = 0.2
# Items the classifier places this firmly in the new batch are its drifted slice.
SLICE_PROBABILITY = 0.8


LEARNED_PREFIX = "router-v"


def routing_router(batch: Batch) -> RouterModel | None:
    """The router version that routed the batch (its latest learned decision names it, e.g.
    ``router-v3``), else the active one (the batch is not routed yet, or by a rule)."""
    names = (RoutingDecision.objects.filter(example__batch=batch, router_version__startswith=LEARNED_PREFIX)
             .order_by("-created_at", "-pk").values_list("router_version", flat=True))
    name = names.first()
    number = name.removeprefix(LEARNED_PREFIX) if name else ""
    found = RouterModel.objects.filter(version=int(number)).first() if number.isdigit() else None
    return found or router_active()


def router_name(model: RouterModel | None) -> str | None:
    return f"{LEARNED_PREFIX}{model.version}" if model else None


def drift_basis(batch: Batch, model: RouterModel | None) -> dict[str, Any]:
    """What a stored result was computed on besides the data: the router it is compared with,
    how many examples the batch had and whose confidence (the primary judge) was tested."""
    return {"router": router_name(model), "examples": batch.examples.count(), "primary_judge": batch.primary_judge}


def input_drift_outdated(batch: Batch) -> bool:
    """No result is stored, or it was computed on another basis than the batch's now (a
    re-route by another router version, examples added, a re-judge)."""
    batch.refresh_from_db(fields=["input_drift", "primary_judge"])
    stored = batch.input_drift or {}
    basis = drift_basis(batch, routing_router(batch))
    return not stored or {key: stored.get(key) for key in basis} != basis


def input_drift_due_at_import(batch: Batch, *, judgments_written: int) -> bool:
    """At the end of an import that wrote ``judgments_written`` judgments: the batch has judgments
    to test, a router is active to compare with, and the stored result (if any) is outdated."""
    # The import's own count answers first: right after a large import, PostgreSQL may plan the
    # join as a walk over every judgment stored (about 1 s at 5M judgments).
    judged = judgments_written > 0 or Judgment.objects.filter(example__batch=batch).exists()
    return judged and router_active() is not None and input_drift_outdated(batch)


def reference_examples(batch: Batch, model: RouterModel | None) -> tuple[list[Example], str]:
    """The held-out calibration examples (the data it was certified on) of ``model`` (the
    router that routes the batch, ``routing_router``), else earlier batches' examples; at most
    MAX_REFERENCE, a seeded sample, never the batch's own."""
    ids = [int(i) for i in (model.calibration.get("example_ids") or [])] if model else []
    if ids:
        qs, source = Example.objects.filter(pk__in=ids), f"router v{model.version if model else ''} calibration"
    else:
        qs, source = Example.objects.filter(batch__created_at__lt=batch.created_at), "earlier batches"
    pks = list(qs.exclude(batch=batch).values_list("pk", flat=True).order_by("pk"))
    if len(pks) > MAX_REFERENCE:
        pks = sorted(random.Random(0).sample(pks, MAX_REFERENCE))
    examples = Example.objects.filter(pk__in=pks).select_related("domain", "batch").order_by("pk")
    return list(examples), source


def _features(items: Sequence[ItemInput]) -> Any:
    matrix = hashed_features(items).tolil()
    # Routing a drifted slice flags it: the drift test must not see its own action.
    matrix[:, hashed_column("flagged", matrix.shape[1])] = 0
    return matrix.tocsr()


def _confidence(item: ItemInput) -> float:
    s = item.signals
    share = s.vote_share or 0.0
    return min(share, s.mean_probability) if s.mean_probability is not None else share


def drift_test(reference: Sequence[ItemInput], new: Sequence[ItemInput], *, seed: int = 0) -> dict[str, Any]:
    """The drift figures of ``new`` against ``reference`` (both at least MIN_ITEMS)."""
    x = _features([*reference, *new])
    y = np.array([0] * len(reference) + [1] * len(new))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    # liblinear: fast on a few hundred sparse rows, even when the classes separate perfectly.
    classifier = LogisticRegression(C=1.0, solver="liblinear", class_weight="balanced")
    scores = cross_val_predict(classifier, x, y, cv=folds, method="predict_proba")[:, 1]
    auc = float(roc_auc_score(y, scores))
    auc_p = float(mannwhitneyu(scores[y == 1], scores[y == 0], alternative="greater").pvalue)
    ks = ks_2samp([_confidence(i) for i in reference], [_confidence(i) for i in new])
    p_value = min(1.0, 2 * min(auc_p, float(ks.pvalue)))
    large = auc >= settings.INPUT_DRIFT_MIN_AUC or float(ks.statistic) >= MIN_KS_DISTANCE
    return {"score": auc, "p_value": p_value, "flagged": bool(p_value < settings.INPUT_DRIFT_ALPHA and large),
            "method": METHOD, "auc_p_value": auc_p, "ks_statistic": float(ks.statistic),
            "ks_p_value": float(ks.pvalue), "n_reference": len(reference), "n_batch": len(new),
            "slice_rows": [i for i, s in enumerate(scores[len(reference):]) if s >= SLICE_PROBABILITY]}


def batch_input_drift_compute(*, batch: Batch) -> dict[str, Any]:
    """Test the batch against the data of the router that routed it (the active one before
    routing), store the result with its ``drift_basis`` on the batch and return it."""
    model = routing_router(batch)
    reference, source = reference_examples(batch, model)
    examples = list(batch.examples.select_related("domain", "batch").order_by("pk"))
    if len(reference) < MIN_ITEMS or len(examples) < MIN_ITEMS:
        result: dict[str, Any] = {"score": None, "p_value": None, "flagged": False, "method": METHOD,
                                  "detail": f"needs {MIN_ITEMS} reference and batch items "
                                            f"({len(reference)} and {len(examples)})"}
    else:
        result = drift_test(example_inputs(reference), example_inputs(examples), seed=batch.seed)
        result["drifted_example_ids"] = [examples[i].pk for i in result.pop("slice_rows")]
    result["reference"] = source
    versions = RoutingDecision.objects.filter(example__batch=batch).values_list("router_version", flat=True)
    result["router_versions"] = sorted(set(versions))
    result.update(drift_basis(batch, model))
    Batch.objects.filter(pk=batch.pk).update(input_drift=result)
    batch.input_drift = result
    return result


def batch_input_drift_refresh(*, batch: Batch) -> dict[str, Any]:
    """The stored result, computed again first when it is outdated (two deliveries queued by
    an import and the routing that follows it compute it once)."""
    if input_drift_outdated(batch):
        return batch_input_drift_compute(batch=batch)
    return batch.input_drift or {}
