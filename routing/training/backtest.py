"""Backtest of certified routing on format-v1 data with human labels, without the database.

Every candidate score (``routing.scoring.candidates``) and the router on the same random splits.
Within one data set, each split is train / calibration / test: the router picks its candidate on
the train part only (``selection.candidate_select``), every candidate is certified on the
calibration part (Learn-then-Test; a cascade stage by stage) and kept items are measured on the
test part. With a separate history (``--history`` files, or every other source under
``--leave-one-source-out``) the history is the train part, fixed across splits, and the data set's
own items are split into calibration (``calibration_fraction`` of them) and test (the rest).
Baselines on the same splits: every candidate, and random routing at the router's coverage.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from routing.decisions.route import confidence_of
from routing.ingest.import_v1 import _judgment_from, parse_lines
from routing.judging.models import Judgment
from routing.monitoring.metrics import labels_agree, majority_label
from routing.scoring.candidates import CANDIDATES, Stage
from routing.scoring.items import LabeledItem, domain_source
from routing.scoring.selection import Pool, candidate_evaluate, candidate_select, candidate_stages
from routing.scoring.vectorized import ItemInput, verdicts_of

TEST_FRACTION = 0.4
CALIBRATION_FRACTION = 0.35


def _verdict(item: ItemInput) -> float | None:
    if item.task == "rating":
        return item.signals.verdict_rating
    return verdicts_of([item])[0]


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


def _summary(results: Sequence[SplitResult]) -> dict[str, Any]:
    agreements = [r.kept_agreement for r in results if r.kept_agreement is not None]
    return {
        "coverage": round(float(np.mean([r.coverage for r in results])), 4),
        "kept_agreement": round(float(np.mean(agreements)), 4) if agreements else None,
        "guarantee_held": round(float(np.mean([r.held for r in results])), 4),
        "splits_with_nothing_kept": sum(r.n_kept == 0 for r in results),
    }


@dataclass
class Setting:
    """What every split shares: the risk target and the history the router learns from."""

    alpha: float
    delta: float
    seed: int


def _stages_on(pool: Pool, idx: np.ndarray, train: np.ndarray, seed: int) -> dict[str, list[Stage]]:
    """Every candidate's stages on the items ``idx`` (learned ones fitted on ``train``)."""
    return {name: candidate_stages(pool, name, idx, train=train, seed=seed) for name in CANDIDATES}


def _cut(stages: list[Stage], pos: np.ndarray) -> list[Stage]:
    return [Stage(s.score[pos], s.verdict[pos]) for s in stages]


def split_results(pool: Pool, stages: dict[str, list[Stage]], idx: np.ndarray, n_cal: int, chosen: str,
                  setting: Setting, rng: np.random.Generator) -> dict[str, SplitResult]:
    """One split of the items ``idx`` (whose stages are given) into calibration and test: every
    candidate, the router (the ``chosen`` candidate) and random routing at the router's coverage."""
    perm = rng.permutation(idx.size)
    cal, test = perm[:n_cal], perm[n_cal:]
    out = {}
    for name, parts in stages.items():
        ev = candidate_evaluate(pool, _cut(parts, cal), idx[cal], _cut(parts, test), idx[test],
                                alpha=setting.alpha, delta=setting.delta)
        out[name] = _measure(ev.kept, ev.correct, setting.alpha)
    out["router"] = out[chosen]
    usable = np.flatnonzero(np.isfinite(pool.primary.verdict[idx[test]]))
    random_kept = np.zeros(test.size, dtype=bool)
    random_kept[rng.choice(usable, min(out["router"].n_kept, usable.size), replace=False)] = True
    out["random"] = _measure(random_kept, pool.primary_correct(idx[test]), setting.alpha)
    return out


def _report(runs: Sequence[dict[str, SplitResult]], chosen: Sequence[str], setting: Setting, **extra: Any
            ) -> dict[str, Any]:
    names = ("judge_confidence", "random", *[n for n in CANDIDATES if n != "judge_confidence"])
    return {
        **extra,
        "alpha": setting.alpha,
        "delta": setting.delta,
        "splits": len(runs),
        "seed": setting.seed,
        **_summary([r["router"] for r in runs]),
        "chosen_scores": {n: chosen.count(n) for n in CANDIDATES if chosen.count(n)},
        "baselines": {name: _summary([r[name] for r in runs]) for name in names},
    }


def _check(items: Sequence[LabeledItem], calibration_fraction: float, upper: float) -> None:
    if not 0 < calibration_fraction < upper:
        raise ValueError(f"calibration fraction must be between 0 and {upper:.2f}")
    if len(items) < 20:
        raise ValueError(f"only {len(items)} items with a human reference; the backtest needs at least 20")


def backtest_items(items: Sequence[LabeledItem], *, tied: int = 0, alpha: float = 0.1, delta: float = 0.1,
                   calibration_fraction: float = CALIBRATION_FRACTION, splits: int = 200,
                   seed: int = 0, on_split: Callable[[int], object] | None = None) -> dict[str, Any]:
    """The backtest within one data set: each split trains on its own train part. ``on_split``
    is told how many splits are done after each one (a job's progress)."""
    _check(items, calibration_fraction, 1 - TEST_FRACTION)
    pool, setting = Pool.of(items), Setting(alpha, delta, seed)
    n = len(items)
    n_test, n_cal = round(TEST_FRACTION * n), round(calibration_fraction * n)
    runs, chosen = [], []
    with threadpool_limits(limits=1):  # BLAS threads oversubscribe small fits badly
        for s in range(splits):
            rng = np.random.default_rng(seed * 100_003 + s)
            perm = rng.permutation(n)
            train, scored = perm[n_test + n_cal :], perm[: n_test + n_cal]
            pick = candidate_select(pool, train, scored, alpha=alpha, delta=delta, n_calibration=n_cal, seed=s)
            chosen.append(pick.name)
            stages = _stages_on(pool, scored, train, s)
            runs.append(split_results(pool, stages, scored, n_cal, pick.name, setting, rng))
            if on_split is not None:
                on_split(s + 1)
    fractions = {"train": round(1 - TEST_FRACTION - calibration_fraction, 4), "calibration": calibration_fraction,
                 "test": TEST_FRACTION}
    return _report(runs, chosen, setting, items=n, left_out_tied_reference=tied, no_judge_verdict=_no_verdict(items),
                   fractions=fractions)


def _no_verdict(items: Sequence[LabeledItem]) -> int:
    return sum(it.verdict is None for it in items)


def source_of(domain: str, prefixes: Sequence[str]) -> str:
    """The source an item belongs to: the first prefix its domain starts with, else the domain's
    first segment. Plain string prefixes, so ``llmbar/adversarial`` covers ``llmbar/adversarial-manual``."""
    return next((p for p in prefixes if domain.startswith(p)), domain_source(domain))


def backtest_transfer(target: Sequence[LabeledItem], history: Sequence[LabeledItem], *, prefixes: Sequence[str] = (),
                      alpha: float = 0.1, delta: float = 0.1, calibration_fraction: float = CALIBRATION_FRACTION,
                      splits: int = 200, seed: int = 0) -> dict[str, Any]:
    """Train (and choose the score) on ``history`` once; split ``target`` into calibration and test.
    The history's folds are its sources (``source_of``), as a new source meets the router."""
    _check(target, calibration_fraction, 1.0)
    pool, setting = Pool.of([*target, *history]), Setting(alpha, delta, seed)
    idx, train = np.arange(len(target)), np.arange(len(target), len(target) + len(history))
    groups = np.array([source_of(it.item.domain, prefixes) for it in [*target, *history]])
    n_cal = round(calibration_fraction * len(target))
    with threadpool_limits(limits=1):
        pick = candidate_select(pool, train, idx, alpha=alpha, delta=delta, n_calibration=n_cal, groups=groups,
                                seed=seed)
        stages = _stages_on(pool, idx, train, seed)
        runs = [split_results(pool, stages, idx, n_cal, pick.name, setting, np.random.default_rng(seed * 100_003 + s))
                for s in range(splits)]
    fractions = {"history_items": len(history), "calibration": calibration_fraction,
                 "test": round(1 - calibration_fraction, 4)}
    return _report(runs, [pick.name] * splits, setting, items=len(target), no_judge_verdict=_no_verdict(target),
                   fractions=fractions, selection={"rule": pick.rule, "figures": pick.figures})


def backtest_sources(items: Sequence[LabeledItem], prefixes: Sequence[str], **options: Any) -> dict[str, Any]:
    """Leave one source out: for each prefix, its items are calibration and test, every other
    item is the history."""
    out = []
    for prefix in prefixes:
        target = [it for it in items if source_of(it.item.domain, prefixes) == prefix]
        history = [it for it in items if source_of(it.item.domain, prefixes) != prefix]
        if not target:
            raise ValueError(f"no item with a human reference has a domain starting with {prefix!r}")
        out.append({"source": prefix, **backtest_transfer(target, history, prefixes=prefixes, **options)})
    return {"sources": out}


def backtest_run(lines: Iterable[str | bytes], *, alpha: float = 0.1, delta: float = 0.1,
                 calibration_fraction: float = CALIBRATION_FRACTION, splits: int = 200,
                 seed: int = 0) -> dict[str, Any]:
    """Run the backtest on a format-v1 file (see the module docstring); returns a JSON-ready dict."""
    items, tied = labeled_items(lines)
    return backtest_items(items, tied=tied, alpha=alpha, delta=delta, calibration_fraction=calibration_fraction,
                          splits=splits, seed=seed)
