"""Backtest of certified routing on a format-v1 file with human labels, without the database.

Each random split: fit the router on a train part, certify a threshold on a calibration part
(Learn-then-Test), measure coverage and agreement on the test part. Baselines on the same
splits: (a) the same certification on the judge's own confidence (vote share capped by its
probability), (b) random routing at the router's coverage.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from threadpoolctl import threadpool_limits

from routing.metrics import labels_agree, majority_label
from routing.models import Judgment
from routing.services.import_v1 import _judgment_from, parse_lines
from routing.services.route import confidence_of

from .certify import certify
from .features import ItemInput, judge_verdict
from .model import router_fit_matrices, routing_score
from .vectorized import features_of

TEST_FRACTION = 0.4
CALIBRATION_FRACTION = 0.35


@dataclass
class LabeledItem:
    """One backtest item: the router's view of it and the human reference label."""

    item: ItemInput
    reference: float
    verdict: float | None
    agree: int  # 1 where the judge's verdict equals the reference; 0 also when no verdict
    confidence: float | None


def _verdict(item: ItemInput) -> float | None:
    if item.task == "rating":
        return item.signals.verdict_rating
    return judge_verdict(item)


def labeled_items(lines: Iterable[str | bytes]) -> tuple[list[LabeledItem], int]:
    """Parse a format-v1 file into labeled items; returns (items, references left out as tied)."""
    out, tied = [], 0
    parsed = parse_lines(lines)
    primary = next((it["judgments"][0]["judge"] for _, it in parsed if it.get("judgments")), "")
    for _, raw in parsed:
        values = [h["choice"] if raw["task"] == "pairwise" else h["rating"] for h in raw.get("human_labels", [])]
        reference = majority_label(values)
        if reference is None:
            tied += bool(values)
            continue
        judgments: list[Judgment] = [_judgment_from(None, j) for j in raw.get("judgments", [])]  # type: ignore[arg-type]
        item = ItemInput(domain=raw["domain"].strip().strip("/"), task=raw["task"], prompt=raw["prompt"],
                         responses=raw["responses"], judgments=judgments, primary_judge=primary)
        out.append(labeled_item(item, reference))
    return out, tied


def labeled_item(item: ItemInput, reference: float) -> LabeledItem:
    """An item with its human reference: the judge's verdict, agreement and confidence."""
    verdict = _verdict(item)
    agree = bool(labels_agree(item.task, reference, verdict))
    confidence = confidence_of(item.signals) if verdict is not None else None  # type: ignore[arg-type]
    return LabeledItem(item, reference, verdict, int(agree), confidence)


@dataclass
class SplitResult:
    coverage: float
    kept_agreement: float | None
    held: bool
    n_kept: int


def _measure(kept: np.ndarray, agree: np.ndarray, alpha: float) -> SplitResult:
    n = int(kept.sum())
    agreement = float(agree[kept].mean()) if n else None
    held = agreement is None or agreement >= 1 - alpha
    return SplitResult(n / kept.size, agreement, held, n)


def _kept_by(cal_scores: np.ndarray, test_scores: np.ndarray, cal_agree: np.ndarray, alpha: float,
             delta: float) -> np.ndarray:
    # The test part plays the batch: its scores (never its labels) fix how many items each threshold keeps.
    cert = certify(cal_scores, cal_agree, alpha=alpha, delta=delta, batch_scores=test_scores)
    if cert.threshold is None:
        return np.zeros(test_scores.size, dtype=bool)
    return np.nan_to_num(test_scores, nan=-np.inf) >= cert.threshold


@dataclass
class Matrices:
    """Every item's features built once, by the ``features_of`` that ``Router.predict`` calls."""

    hashed: sparse.csr_matrix
    vectors: sparse.csr_matrix
    agree: np.ndarray
    usable: np.ndarray
    confidence: np.ndarray

    @classmethod
    def of(cls, items: Sequence[LabeledItem]) -> Matrices:
        rows = features_of([it.item for it in items])
        return cls(rows.hashed, rows.vectors, np.array([it.agree for it in items]),
                   np.array([it.verdict is not None for it in items]),
                   np.array([np.nan if it.confidence is None else it.confidence for it in items]))


def router_scores(m: Matrices, train: np.ndarray, score: np.ndarray, seed: int) -> np.ndarray:
    """Fit on the ``train`` items that have a verdict; score ``score`` items (NaN = no verdict)."""
    fit = train[m.usable[train]]
    out = np.full(score.size, np.nan)
    if fit.size == 0 or m.agree[fit].min() == m.agree[fit].max():
        return out  # a train part without both outcomes trains nothing: this split keeps nothing
    router = router_fit_matrices(m.hashed[fit], m.vectors[fit], m.agree[fit], seed=seed)
    usable = m.usable[score]
    if usable.any():
        chosen = score[usable]
        out[usable] = routing_score(router.predict_matrices(m.hashed[chosen], m.vectors[chosen]),
                                    m.confidence[chosen])
    return out


def split_run(items: Sequence[LabeledItem], m: Matrices, *, alpha: float, delta: float, calibration_fraction: float,
              seed: int) -> dict[str, SplitResult]:
    """One random train / calibration / test split: router, judge-confidence and random routing."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(items))
    n_test, n_cal = round(TEST_FRACTION * len(items)), round(calibration_fraction * len(items))
    test, cal, train = perm[:n_test], perm[n_test : n_test + n_cal], perm[n_test + n_cal :]
    agree = m.agree
    scores = router_scores(m, train, np.concatenate([cal, test]), seed)
    kept = _kept_by(scores[: cal.size], scores[cal.size :], agree[cal], alpha, delta)
    base_kept = _kept_by(m.confidence[cal], m.confidence[test], agree[cal], alpha, delta)
    usable = np.flatnonzero(m.usable[test])
    random_kept = np.zeros(test.size, dtype=bool)
    random_kept[rng.choice(usable, min(int(kept.sum()), usable.size), replace=False)] = True
    return {
        "router": _measure(kept, agree[test], alpha),
        "judge_confidence": _measure(base_kept, agree[test], alpha),
        "random": _measure(random_kept, agree[test], alpha),
    }


def _summary(results: Sequence[SplitResult]) -> dict[str, Any]:
    agreements = [r.kept_agreement for r in results if r.kept_agreement is not None]
    return {
        "coverage": round(float(np.mean([r.coverage for r in results])), 4),
        "kept_agreement": round(float(np.mean(agreements)), 4) if agreements else None,
        "guarantee_held": round(float(np.mean([r.held for r in results])), 4),
        "splits_with_nothing_kept": sum(r.n_kept == 0 for r in results),
    }


def backtest_run(lines: Iterable[str | bytes], *, alpha: float = 0.1, delta: float = 0.1,
                 calibration_fraction: float = CALIBRATION_FRACTION, splits: int = 200,
                 seed: int = 0) -> dict[str, Any]:
    """Run the backtest on a format-v1 file (see the module docstring); returns a JSON-ready dict."""
    items, tied = labeled_items(lines)
    return backtest_items(items, tied=tied, alpha=alpha, delta=delta, calibration_fraction=calibration_fraction,
                          splits=splits, seed=seed)


def backtest_items(items: Sequence[LabeledItem], *, tied: int = 0, alpha: float = 0.1, delta: float = 0.1,
                   calibration_fraction: float = CALIBRATION_FRACTION, splits: int = 200,
                   seed: int = 0) -> dict[str, Any]:
    """The backtest over labeled items (from a file, or from a stored batch's history)."""
    if not 0 < calibration_fraction < 1 - TEST_FRACTION:
        raise ValueError(f"calibration fraction must be between 0 and {1 - TEST_FRACTION:.2f}")
    if len(items) < 20:
        raise ValueError(f"only {len(items)} items with a human reference; the backtest needs at least 20")
    m = Matrices.of(items)
    with threadpool_limits(limits=1):  # BLAS threads oversubscribe small fits badly
        runs = [split_run(items, m, alpha=alpha, delta=delta, calibration_fraction=calibration_fraction,
                          seed=seed * 100_003 + s) for s in range(splits)]
    router = _summary([r["router"] for r in runs])
    return {
        "items": len(items),
        "left_out_tied_reference": tied,
        "no_judge_verdict": sum(it.verdict is None for it in items),
        "alpha": alpha,
        "delta": delta,
        "splits": splits,
        "seed": seed,
        "fractions": {"train": round(1 - TEST_FRACTION - calibration_fraction, 4),
                      "calibration": calibration_fraction, "test": TEST_FRACTION},
        **router,
        "baselines": {name: _summary([r[name] for r in runs]) for name in ("judge_confidence", "random")},
    }
