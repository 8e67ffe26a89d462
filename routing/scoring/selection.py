"""Choosing the router's score on the training history only, never on calibration labels.

``Pool`` holds labeled items with every candidate's stages (``routing.scoring.candidates``).
``candidate_evaluate`` certifies one candidate on a calibration part and applies it to a batch,
as live routing does. ``candidate_select`` estimates each candidate's certified coverage at the
batch's alpha and delta by cross-validation inside the history (learned candidates are fitted on
the other folds; the out-of-fold scores give ``power.expected_coverage`` at the calibration part's
size) and picks the largest (``candidate_choose`` says when not). When the history comes
from other sources than the batch (transfer), the folds are those sources, so the estimate is of
how a score carries over to a source it was not fitted on.

With less than MIN_SELECTION_HISTORY labeled items the estimate is noise, and a judge-only score
is fixed in advance by ``default_candidate``: the most confident judge when several judges give
probabilities (it keeps the most on such data in the literature and in our unseen-data checks),
the judges' ensemble when several judges vote without probabilities; for one judge asked in both
answer orders its probability weighted by how consistent its verdicts are across the orders
(position bias is the best-documented failure of LLM judges), else its simulated-annotators
confidence (Trust or Escalate).

One more rule fixed in advance, from what the target's judgments carry (label-free): when the
primary judge gives fewer than COARSE_VOTES verdicts on every item and no probabilities
(``coarse_judge_scores``), every judge-only score is a share over a few votes, moving in steps
larger than the risk levels certification works at, so it takes a handful of values and
certification can keep only whole ties of them. A history judged with more votes per item does
not show this (its judge-only scores rank finely there), so cross-validation on it overrates them;
``judge_refined`` (that judge score with its ties ranked by the text-learned score) is used
whenever it is eligible and the target's sources have history of their own (``_target_seen``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from routing.scoring.candidates import (
    CANDIDATES,
    JUDGE_ONLY,
    LEARNED,
    TEXT_LEARNED,
    Stage,
    agreement,
    judge_only_stages,
    refined,
)
from routing.scoring.certify import Certification, cascade_apply
from routing.scoring.items import LabeledItem
from routing.scoring.model import Router, router_fit_matrices
from routing.scoring.power import expected_coverage
from routing.scoring.vectorized import ItemInput, features_of

MIN_SELECTION_HISTORY = 50
MIN_LEARNED_TRAIN = 50
SELECTION_FOLDS = 5
# The least coverage that counts as keeping something, and the least tie margin (``candidate_choose``).
TIE = 0.01
LEARNED_C = 0.3
# Fewer verdicts per item than this (without probabilities) make judge-only scores coarse:
# a share over fewer than 10 votes moves in steps above 0.1 (see the module docstring).
COARSE_VOTES = 10
COARSE_RULE = (f"fixed rule: fewer than {COARSE_VOTES} verdicts per item without probabilities "
               "(coarse judge-only scores)")


@dataclass
class Pool:
    """Labeled items with their features and every judge-only candidate's stages."""

    tasks: list[str]
    reference: np.ndarray
    hashed: sparse.csr_matrix
    vectors: sparse.csr_matrix
    judge_only: dict[str, list[Stage]]
    items: list[ItemInput]

    @classmethod
    def of(cls, items: Sequence[LabeledItem]) -> Pool:
        inputs = [it.item for it in items]
        rows = features_of(inputs)
        return cls([it.item.task for it in items], np.array([it.reference for it in items], dtype=float),
                   rows.hashed, rows.vectors, judge_only_stages(inputs), inputs)

    @property
    def primary(self) -> Stage:
        """The primary judge's majority verdict: what the learned candidates predict the fate of."""
        return self.judge_only["vote_share"][0]

    def correct(self, stage: Stage, idx: np.ndarray) -> np.ndarray:
        """1 where ``stage`` (aligned with the items ``idx``) has the items' human reference."""
        return agreement(stage, self.reference[idx], [self.tasks[i] for i in idx])

    def primary_correct(self, idx: np.ndarray) -> np.ndarray:
        return self.correct(Stage(self.primary.score[idx], self.primary.verdict[idx]), idx)


def default_candidate(items: Sequence[ItemInput]) -> str:
    """The judge-only score used with little history (see the module docstring), from what the
    items to be routed carry: how many judges, probabilities, both answer orders. Label-free."""
    votes = [j for it in items for j in it.judgments]
    if len({j.judge for j in votes}) > 1:
        return "most_confident_judge" if any(j.probability is not None for j in votes) else "judge_ensemble"
    return "order_weighted" if {"ab", "ba"} <= {j.order for j in votes} else "simulated_annotators"


def coarse_judge_scores(items: Sequence[ItemInput]) -> bool:
    """Whether the primary judge's votes on ``items`` carry no probability and number fewer than
    COARSE_VOTES on every item: judge-only scores then take a handful of values. Every item, not
    most: where finely judged items are mixed in, the judge's order among them still counts and
    cross-validation decides."""
    primary = [it.primary for it in items]
    if not primary or any(j.probability is not None for votes in primary for j in votes):
        return False
    return all(len(votes) < COARSE_VOTES for votes in primary)


def learned_fit(pool: Pool, train: np.ndarray, *, text: bool, seed: int) -> Router | None:
    """Fit a learned candidate on the ``train`` items with a primary verdict (None when they do
    not hold both outcomes: such a history trains nothing)."""
    fit = train[np.isfinite(pool.primary.verdict[train])]
    y = pool.primary_correct(fit)
    if min(y.sum(), y.size - y.sum()) < 2:  # the calibrated fit needs two of each outcome
        return None
    return router_fit_matrices(pool.hashed[fit], pool.vectors[fit], y, seed=seed, c=LEARNED_C, text=text)


def router_stage(pool: Pool, router: Router | None, idx: np.ndarray, name: str = "learned") -> Stage:
    """The stage of learned candidate ``name`` fitted as ``router`` on the items ``idx`` (NaN
    without a primary verdict)."""
    verdict = pool.primary.verdict[idx]
    out = np.full(idx.size, np.nan)
    usable = np.isfinite(verdict)
    if router is not None and usable.any():
        chosen = idx[usable]
        out[usable] = router.predict_matrices(pool.hashed[chosen], pool.vectors[chosen])
    if name == "judge_refined":
        judge = pool.judge_only["order_weighted"][0]
        return refined(Stage(judge.score[idx], judge.verdict[idx]), out)
    return Stage(out, verdict)


def candidate_stages(pool: Pool, name: str, idx: np.ndarray, *, train: np.ndarray | None = None,
                     seed: int = 0) -> list[Stage]:
    """A candidate's stages on items ``idx``; learned candidates are fitted on ``train``."""
    if name in LEARNED:
        assert train is not None
        return [router_stage(pool, learned_fit(pool, train, text=name in TEXT_LEARNED, seed=seed), idx, name)]
    return [Stage(s.score[idx], s.verdict[idx]) for s in pool.judge_only[name]]


@dataclass
class Evaluation:
    """A candidate certified on a calibration part and applied to a batch."""

    kept: np.ndarray
    correct: np.ndarray  # on the batch: 1 where the verdict of the stage that kept it is right
    certifications: list[Certification]


def candidate_evaluate(pool: Pool, cal: list[Stage], cal_idx: np.ndarray, batch: list[Stage],
                       batch_idx: np.ndarray, *, alpha: float, delta: float) -> Evaluation:
    """Certify the stages on the calibration items, then keep the batch items they clear."""
    kept, correct, certs = cascade_apply([s.score for s in cal], [pool.correct(s, cal_idx) for s in cal],
                                         [s.score for s in batch], [pool.correct(s, batch_idx) for s in batch],
                                         alpha=alpha, delta=delta)
    return Evaluation(kept, correct, certs)


@dataclass
class Selection:
    """Which candidate the router uses, why, and every candidate's cross-validated coverage."""

    name: str
    rule: str
    figures: dict[str, float] = field(default_factory=dict)
    # Cross-validation's own choice (``candidate_choose``), also when a fixed rule overrode it:
    # live routing uses it for sources the history lacks, where the rule is not applied.
    cv_name: str = ""


def _folds(idx: np.ndarray, groups: np.ndarray | None, rng: np.random.Generator) -> list[np.ndarray]:
    if groups is not None and np.unique(groups[idx]).size > 1:
        return [idx[groups[idx] == g] for g in np.unique(groups[idx])]
    perm = rng.permutation(idx)
    return [perm[k::SELECTION_FOLDS] for k in range(SELECTION_FOLDS)]


def _eligible(folds: list[np.ndarray]) -> list[str]:
    """The candidates cross-validation can judge: a learned one only when every fold's model
    is fitted on at least MIN_LEARNED_TRAIN items (fewer make its estimate noise)."""
    total = sum(f.size for f in folds)
    enough = min(total - f.size for f in folds) >= MIN_LEARNED_TRAIN
    return [c for c in CANDIDATES if enough or c not in LEARNED]


def _out_of_fold(pool: Pool, folds: list[np.ndarray], names: list[str], seed: int) -> dict[str, list[list[Stage]]]:
    """Per candidate, per fold: its stages on that fold (learned ones fitted on the other folds)."""
    out: dict[str, list[list[Stage]]] = {}
    for name in names:
        per_fold = []
        for k, fold in enumerate(folds):
            rest = np.concatenate([f for j, f in enumerate(folds) if j != k]) if name in LEARNED else None
            per_fold.append(candidate_stages(pool, name, fold, train=rest, seed=seed))
        out[name] = per_fold
    return out


def _evaluation_parts(pool: Pool, folds: list[np.ndarray], target: np.ndarray, grouped: bool) -> list[list[int]]:
    """Which folds the coverage is estimated on, together or one by one: random folds together
    (one history, one calibration); source folds one by one (each source is certified on its
    own), and only the sources judged by the target's primary judge when there are any: a source
    whose judges differ says little about how a score carries over to the target. Label-free."""
    if not grouped:
        return [list(range(len(folds)))]
    primary = {pool.items[i].primary_judge for i in target}
    same = [k for k, fold in enumerate(folds) if any(j.judge in primary for i in fold for j in pool.items[i].judgments)]
    return [[k] for k in (same or range(len(folds)))]


def _cv_coverage(pool: Pool, folds: list[np.ndarray], oof: dict[str, list[list[Stage]]], parts: list[list[int]], *,
                 alpha: float, delta: float, n_calibration: int) -> dict[str, float]:
    """Per candidate, ``expected_coverage`` of its out-of-fold scores on each part (see
    ``_evaluation_parts``), averaged weighted by the parts' sizes."""
    out = {}
    for name in oof:
        total = weight = 0.0
        for ks in parts:
            idx = np.concatenate([folds[k] for k in ks])
            n_stages = len(oof[name][ks[0]])
            stages = [Stage(np.concatenate([oof[name][k][s].score for k in ks]),
                            np.concatenate([oof[name][k][s].verdict for k in ks])) for s in range(n_stages)]
            cov = expected_coverage(stages, [pool.correct(st, idx) for st in stages], n_calibration=n_calibration,
                                    alpha=alpha, delta=delta)
            total, weight = total + idx.size * cov, weight + idx.size
        out[name] = round(total / weight, 4)
    return out


def tie_margin(a: float, b: float, n: int) -> float:
    """How far apart two coverages estimated on n items may be and still count as tied: two
    standard errors of their difference (taken as independent, which overstates it), at least TIE."""
    return max(TIE, 2 * float(np.sqrt((a * (1 - a) + b * (1 - b)) / max(n, 1))))


def _has_verdict(pool: Pool, idx: np.ndarray) -> np.ndarray:
    """Items some judge gave a usable verdict (the others can only go to humans)."""
    return np.any([np.isfinite(s.verdict[idx]) for stages in pool.judge_only.values() for s in stages], axis=0)


def _target_seen(groups: np.ndarray | None, history: np.ndarray, target: np.ndarray) -> bool:
    """Whether every target item's source has labeled history (always, when items carry no
    sources). ``judge_refined`` breaks ties by the text-learned score, which ranks the sources it
    was fitted on; on a source left out of the history it does not carry over (``make coarse-check``:
    leaving out an LLMBar source, the rule lost up to 0.40 of coverage to cross-validation's choice)."""
    return groups is None or bool(np.isin(groups[target], groups[history]).all())


def candidate_select(pool: Pool, history: np.ndarray, target: np.ndarray, *, alpha: float, delta: float,
                     n_calibration: int, groups: np.ndarray | None = None, seed: int = 0) -> Selection:
    """The candidate with the largest cross-validated certified coverage on ``history`` (see the
    module docstring) for routing the ``target`` items (only their judgments are looked at);
    ``groups`` (a source per item) makes the folds sources; ``candidate_choose`` picks from the figures."""
    history = history[_has_verdict(pool, history)]
    fixed = default_candidate([pool.items[i] for i in target])
    if history.size < MIN_SELECTION_HISTORY:
        return Selection(fixed, f"fixed rule: {history.size} labeled items in the history, "
                                f"cross-validation needs {MIN_SELECTION_HISTORY}")
    rng = np.random.default_rng(seed)
    folds = _folds(history, groups, rng)
    grouped = groups is not None and np.unique(groups[history]).size > 1
    parts = _evaluation_parts(pool, folds, target, grouped)
    figures = _cv_coverage(pool, folds, _out_of_fold(pool, folds, _eligible(folds), seed), parts, alpha=alpha,
                           delta=delta, n_calibration=n_calibration)
    n = sum(folds[k].size for part in parts for k in part)
    kind = "source" if grouped else "random"
    cv = candidate_choose(figures, fixed=fixed, n=n)
    if "judge_refined" in figures and _target_seen(groups, history, target) \
            and coarse_judge_scores([pool.items[i] for i in target]):
        return Selection("judge_refined", COARSE_RULE, figures, cv_name=cv)
    return Selection(cv, f"cross-validation ({len(folds)} {kind} folds)", figures, cv_name=cv)


def candidate_choose(figures: dict[str, float], *, fixed: str, n: int) -> str:
    """The candidate with the largest figure, with two exceptions. The fixed rule's candidate
    wins when it is within ``tie_margin`` of the best and itself keeps something (at least TIE):
    its figure carries no selection noise, but a score estimated to keep nothing has no claim.
    When no candidate is estimated to keep TIE, the history cannot rank them, and the plain
    learned score is used if it is eligible (else the fixed rule's): cross-validation understates
    a learned score (fitted on part of a small history, used fitted on all of it), not a judge's
    own score, and only a learned score can rank errors the judgments alone do not. ``n`` is the
    number of items the figures were estimated on."""
    best = max(figures.values())
    if best < TIE:
        return "learned" if "learned" in figures else fixed
    own = figures.get(fixed, -1.0)
    if own >= TIE and own >= best - tie_margin(best, own, n):
        return fixed
    return max(figures, key=figures.__getitem__)


__all__ = ["COARSE_RULE", "JUDGE_ONLY", "Pool", "Selection", "candidate_choose", "candidate_evaluate",
           "candidate_select", "candidate_stages"]
