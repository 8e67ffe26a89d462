"""Training the learned router on every example with a human reference, and versioning it."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from sklearn.metrics import brier_score_loss, roc_auc_score
from threadpoolctl import threadpool_limits

from routing.batches.models import Batch
from routing.batches.selectors import example_references, human_label_count, labeled_examples
from routing.monitoring.metrics import expected_calibration_error
from routing.scoring.candidates import LEARNED, TEXT_LEARNED, Stage, cascade_order
from routing.scoring.certify import START_FRACTION, START_KEPT, certify_cascade
from routing.scoring.items import domain_source
from routing.scoring.model import Router, router_dumps
from routing.scoring.models import RouterModel
from routing.scoring.selection import (
    COARSE_RULE,
    Pool,
    Selection,
    candidate_select,
    candidate_stages,
    learned_fit,
    router_stage,
)
from routing.scoring.selectors import example_inputs, router_active, router_latest
from routing.scoring.vectorized import feature_spec
from routing.training.backtest import LabeledItem, backtest_items, labeled_item
from routing.training.router_promotion import promotion_summary, router_model_activate, router_promotion_decide

log = logging.getLogger(__name__)

# 40% of the labeled history trains the model, 60% is held out (as in the backtest: train 0.25,
# calibration 0.35 of all items): it certifies the
# threshold and measures AUROC / ECE / Brier. Certification needs data the model never saw.
CALIBRATION_SHARE = 0.6
MIN_LABELED = 40
RETRAIN_NEW_LABELS = 200
RELIABILITY_BINS = 10


class RouterTrainingError(ValueError):
    """Too little or too uniform labeled history to train a router."""


@dataclass
class Trained:
    router: Router
    metrics: dict[str, Any]
    calibration: dict[str, Any]
    n_train: int
    n_calibration: int
    score_name: str
    selection: dict[str, Any]
    unseen_router: Router | None = None  # the unseen sources' learned score, when it needs its own fit


def labeled_history() -> tuple[list[LabeledItem], list[int]]:
    """Every stored example with a human reference and a usable judge verdict, as labeled items,
    and their example ids (a parallel list: promotion needs to know which ones were held out)."""
    examples = list(labeled_examples())
    references = example_references(examples)
    examples = [e for e in examples if e.pk in references]
    items = [labeled_item(inp, references[e.pk]) for e, inp in zip(examples, example_inputs(examples), strict=True)]
    usable = [(it, e.pk) for it, e in zip(items, examples, strict=True) if it.verdict is not None]
    return [it for it, _ in usable], [pk for _, pk in usable]


def reliability(probs: np.ndarray, agree: np.ndarray, bins: int = RELIABILITY_BINS) -> list[dict[str, float]]:
    """Per equal-width probability bin: mean predicted probability, observed agreement, count."""
    out = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        mask = (probs >= lo) & ((probs < hi) | (b == bins - 1))
        if mask.any():
            out.append({"lo": lo, "hi": hi, "predicted": float(probs[mask].mean()),
                        "observed": float(agree[mask].mean()), "n": int(mask.sum())})
    return out


def held_out_metrics(probs: np.ndarray, agree: np.ndarray) -> dict[str, Any]:
    """AUROC, ECE, Brier and the reliability diagram's bins on held-out (calibration) data."""
    both = 0 < agree.sum() < agree.size
    return {
        "auroc": float(roc_auc_score(agree, probs)) if both else None,
        "ece": expected_calibration_error(probs.tolist(), agree.tolist()),
        "brier": float(brier_score_loss(agree, probs)) if both else float(np.mean((probs - agree) ** 2)),
        "agreement": float(agree.mean()),
        "reliability": reliability(probs, agree),
    }


def _json_floats(values: np.ndarray) -> list[float | None]:
    # JSON (and PostgreSQL's jsonb) has no NaN: an item no stage can score is stored as null.
    # Unrounded: judge_refined breaks ties at REFINE_WEIGHT (1e-7), which rounding would erase,
    # leaving its calibration ranked by the judge score alone while batches are ranked refined.
    return [None if not np.isfinite(v) else float(v) for v in values]


def router_train_items(items: Sequence[LabeledItem], *, seed: int = 0, alpha: float = 0.1,
                       delta: float = 0.1, ids: Sequence[int] | None = None) -> Trained:
    """Split the history into train and calibration, choose the score on the train part
    (``selection.candidate_select``), fit the learned model, and keep the chosen score's
    held-out calibration data per stage (with ``ids``, one per item, also the held-out items'
    ids as ``calibration["example_ids"]``). No database access."""
    if ids is not None and len(ids) != len(items):
        raise ValueError(f"{len(ids)} ids for {len(items)} items")
    if len(items) < MIN_LABELED:
        raise RouterTrainingError(f"{len(items)} labeled examples with a judge verdict; training needs {MIN_LABELED}")
    perm = np.random.default_rng(seed).permutation(len(items))
    n_cal = int(round(CALIBRATION_SHARE * len(items)))
    cal, train = perm[:n_cal], perm[n_cal:]
    pool = Pool.of(items)
    agree = pool.primary_correct(train)
    if agree.min() == agree.max():
        raise RouterTrainingError("the judge agrees (or disagrees) with humans on every training example")
    with threadpool_limits(limits=1):
        pick = candidate_select(pool, train, cal, alpha=alpha, delta=delta, n_calibration=n_cal, seed=seed)
        text = pick.name in TEXT_LEARNED
        router = learned_fit(pool, train, text=text, seed=seed)
        assert router is not None  # both outcomes are in the train part (checked above)
        stages = ([router_stage(pool, router, cal, pick.name)] if pick.name in LEARNED
                  else candidate_stages(pool, pick.name, cal))
        unseen, unseen_router = _unseen_choice(pool, pick, router, train, cal, alpha=alpha, delta=delta, seed=seed)
    calibration = _calibration(pool, stages, cal, alpha=alpha, delta=delta)
    if ids is not None:
        calibration["example_ids"] = [int(ids[i]) for i in cal]
    first = np.isfinite(stages[0].score)
    metrics = held_out_metrics(stages[0].score[first], pool.correct(stages[0], cal)[first]) if first.any() else {}
    order = cascade_order([it.item for it in items])
    selection = {"rule": pick.rule, "figures": pick.figures, "cascade_order": order, "learned_text": text,
                 "cv_choice": pick.cv_name}
    if unseen is not None:
        selection["unseen"] = unseen
    return Trained(router, metrics, calibration, int(train.size), int(cal.size), pick.name, selection, unseen_router)


def _unseen_choice(pool: Pool, pick: Selection, text_router: Router, train: np.ndarray, cal: np.ndarray, *,
                   alpha: float, delta: float, seed: int) -> tuple[dict[str, Any] | None, Router | None]:
    """When the coarse rule chose ``judge_refined`` over cross-validation's own choice, that choice
    with its own held-out calibration, and the sources of the training part: the rule is applied
    only to sources with history, as the backtest does (``selection._target_seen``); the others
    are routed with this. Its router when it is the learned score without text (``learned_text``
    is the same fit as ``judge_refined``'s)."""
    name = pick.cv_name
    if pick.rule != COARSE_RULE or not name or name == pick.name:
        return None, None
    router = learned_fit(pool, train, text=False, seed=seed) if name == "learned" else None
    if name in LEARNED:
        stages = [router_stage(pool, router or text_router, cal, name)]
    else:
        stages = candidate_stages(pool, name, cal)
    sources = sorted({domain_source(pool.items[i].domain) for i in train})
    return {"score_name": name, "rule": "cross-validation's own choice, for sources without labeled history",
            "seen_sources": sources, "calibration": _calibration(pool, stages, cal, alpha=alpha, delta=delta)}, router


def _calibration(pool: Pool, stages: list[Stage], cal: np.ndarray, *, alpha: float, delta: float) -> dict[str, Any]:
    correct = [pool.correct(s, cal) for s in stages]
    certs = certify_cascade([s.score for s in stages], correct, alpha=alpha, delta=delta)
    per_stage = [{"scores": _json_floats(s.score), "agree": c.tolist()} for s, c in zip(stages, correct, strict=True)]
    return {"stages": per_stage, "scores": per_stage[0]["scores"], "agree": per_stage[0]["agree"],
            "grid": {"start_kept": START_KEPT, "start_fraction": START_FRACTION},
            "default": certs[0].as_dict(), "default_stages": [c.as_dict() for c in certs]}


def router_model_save(*, trained: Trained, n_labels_seen: int, activate: bool) -> RouterModel:
    """Store a trained router as the next version: a candidate, or (``activate``) the active one."""
    with transaction.atomic():
        version = (RouterModel.objects.aggregate(v=Max("version"))["v"] or 0) + 1
        model = RouterModel.objects.create(
            version=version, blob=router_dumps(trained.router), feature_spec=feature_spec(),
            metrics=trained.metrics, calibration=trained.calibration, n_train=trained.n_train,
            n_calibration=trained.n_calibration, n_labels_seen=n_labels_seen, is_active=False,
            status=RouterModel.Status.CANDIDATE, score_name=trained.score_name, selection=trained.selection,
            unseen_blob=router_dumps(trained.unseen_router) if trained.unseen_router else None,
        )
        if activate:  # no comparison: the caller has decided
            router_model_activate(model=model, event={"action": "activated", "by": "router_model_save"})
        return model


def router_train(*, seed: int = 0) -> RouterModel:
    """Train a router on the whole labeled history as a candidate, then activate it only if it
    does not route worse than the active one (``router_promotion``; raises RouterTrainingError)."""
    seen = human_label_count()
    items, ids = labeled_history()
    trained = router_train_items(items, seed=seed, ids=ids)
    model = router_model_save(trained=trained, n_labels_seen=seen, activate=False)
    model = router_promotion_decide(challenger=model, items=items, ids=ids, seed=seed)
    log.info("router v%s trained on %d, calibrated on %d: %s", model.version, model.n_train, model.n_calibration,
             promotion_summary(model))
    return model


def router_retrain_due() -> bool:
    """True when no router exists yet, the active one was built on other features (see
    ``route.stale_reason``), or RETRAIN_NEW_LABELS human labels arrived since the last retrain
    (the last one trained, even if it was rejected: the same labels would train the same loser)."""
    active = router_active()
    seen = human_label_count()
    if active is None or active.feature_spec != feature_spec():
        return seen >= MIN_LABELED
    last = router_latest() or active
    return seen - last.n_labels_seen >= RETRAIN_NEW_LABELS


def router_retrain_if_due() -> RouterModel | None:
    """The beat task's body: retrain when due; a concurrent retrain losing the version race is fine."""
    if not router_retrain_due():
        return None
    try:
        return router_train()
    except RouterTrainingError as exc:
        log.info("router retrain skipped: %s", exc)
    except IntegrityError:
        log.info("router retrain skipped: another worker saved the same version")
    return None


def batch_labeled_items(batch: Batch) -> tuple[list[LabeledItem], int]:
    """A stored batch's examples with a human reference (and the count left out as tied)."""
    examples = list(labeled_examples().filter(batch=batch))
    references = example_references(examples)
    kept = [e for e in examples if e.pk in references]
    items = [labeled_item(inp, references[e.pk]) for e, inp in zip(kept, example_inputs(kept), strict=True)]
    return items, len(examples) - len(kept)


def batch_backtest_run(*, batch: Batch, alpha: float, delta: float, splits: int, seed: int = 0,
                       on_split: Callable[[int], object] | None = None) -> dict[str, Any]:
    """The file backtest (``manage.py backtest``) on a stored batch's labeled history."""
    items, tied = batch_labeled_items(batch)
    result = backtest_items(items, tied=tied, alpha=alpha, delta=delta, splits=splits, seed=seed, on_split=on_split)
    result["batch"] = batch.name
    return result


def backtest_result_path(token: str) -> Path:
    """Where an asynchronous backtest leaves its result (web and worker share the disk)."""
    if not token.isalnum():
        raise ValueError("bad backtest token")
    return Path(settings.BASE_DIR) / "var" / "backtests" / f"{token}.json"


def backtest_result_save(*, token: str, result: dict[str, Any]) -> None:
    path = backtest_result_path(token)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(path)  # atomic: the polling page never reads half a file
