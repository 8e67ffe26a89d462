"""Candidate confidence scores: each gives, per item, the verdict it would keep and a score.

Which score ranks judge errors best differs from one data set to the next (vote shares are
uninformative when each judge votes once; a judge's own probability may be strong or weak), so
the router does not fix one: ``routing.scoring.selection`` chooses among these by cross-validation
on the training history. Every candidate is judge-only (no fitting) except the learned ones,
which ``routing.scoring.selection`` fits on the training part.

A vote with choice ``c`` and probability ``p`` (the judge's own, from its log-probabilities) is
read as the class distribution P(c) = p with the rest spread over the other verdicts; a vote
without a probability counts as P(c) = 1. A score is NaN where the candidate has no verdict.
A cascade has several stages (one per judge, cheapest first); the others have one.

``judge_refined`` is the primary judge's ``order_weighted`` score with its ties broken by the
text-learned score (``refined``): it keeps the judge's own order wherever that has one and lets the
learned score rank only within ties, which is where a judge-only score over a few votes carries
no information.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from routing.batches import verdicts
from routing.judging.signals import Signals
from routing.scoring.vectorized import ItemInput

# Pairwise verdicts are 0 (tie), 1 and 2.
N_CLASSES = 3
JUDGE_ONLY = ("judge_confidence", "vote_share", "mean_probability", "order_weighted", "simulated_annotators",
              "most_confident_judge", "judge_ensemble", "cascade")
LEARNED = ("learned", "learned_text", "judge_refined")
# The learned candidates fitted with the prompt's words.
TEXT_LEARNED = ("learned_text", "judge_refined")
# How far the learned score (a probability) moves a refined judge score: it reorders only judge
# scores that are equal or within 1e-7, far below the steps of a share over the votes of an item.
REFINE_WEIGHT = 1e-7
CANDIDATES = JUDGE_ONLY + LEARNED


@dataclass
class Stage:
    """One stage of a candidate: per item the verdict it keeps and its score (NaN = none)."""

    score: np.ndarray
    verdict: np.ndarray


@dataclass
class JudgeVotes:
    """One judge's usable pairwise votes on one item."""

    dist: list[float]  # mean class distribution over the votes ("simulated annotators")
    counts: list[float]  # votes per verdict
    consistency: float | None  # share of (variant, sample) pairs that agree across orders


def vote_distribution(choice: int, probability: float | None) -> list[float]:
    """A vote as a distribution over the verdicts (see the module docstring)."""
    out = [0.0, 0.0, 0.0]
    _add_vote(out, choice, probability)
    return out


def _add_vote(acc: list[float], choice: int, probability: float | None) -> None:
    """``acc += vote_distribution(choice, probability)`` in plain floats: live scoring runs this
    once per vote, and numpy's per-call overhead would dominate it."""
    p = 1.0 if probability is None or not math.isfinite(probability) else min(max(float(probability), 0.0), 1.0)
    if choice in (1, 2):
        acc[choice] += p
        acc[3 - choice] += 1.0 - p
    else:
        acc[0] += p
        acc[1] += (1.0 - p) / 2
        acc[2] += (1.0 - p) / 2


def judge_votes(item: ItemInput) -> dict[str, JudgeVotes]:
    """Per judge (in the order they appear), its usable votes on a pairwise item."""
    acc: dict[str, tuple[list[float], list[float], dict[tuple[str, int], dict[str, int]]]] = {}
    for j in item.judgments:
        choice = j.choice
        if j.error or choice is None or not 0 <= choice < N_CLASSES:
            continue
        dist, counts, pairs = acc.setdefault(j.judge, ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0], {}))
        _add_vote(dist, choice, j.probability)
        counts[choice] += 1
        pairs.setdefault((j.variant, j.sample), {})[j.order] = choice
    out = {}
    for judge, (dist, counts, pairs) in acc.items():
        n = sum(counts)
        both = [p for p in pairs.values() if "ab" in p and "ba" in p]
        consistency = sum(p["ab"] == p["ba"] for p in both) / len(both) if both else None
        out[judge] = JudgeVotes([d / n for d in dist], counts, consistency)
    return out


def _top(values: Sequence[float]) -> tuple[float, float]:
    """(verdict, value) of the largest entry; NaN verdict when two tie for first place (plain
    floats: this runs a few times per item in live scoring)."""
    best = max(range(len(values)), key=values.__getitem__)
    top = values[best]
    if top <= 0 or any(abs(v - top) <= 1e-9 for i, v in enumerate(values) if i != best):
        return math.nan, math.nan
    return float(best), float(top)


def _primary_scores(item: ItemInput, votes: JudgeVotes | None) -> dict[str, tuple[float, float]]:
    """The single-judge candidates of the primary judge: name -> (verdict, score)."""
    s: Signals = item.signals
    if votes is None:
        return {}
    total = max(sum(votes.counts), 1.0)
    majority, share = _top([c / total for c in votes.counts])
    out = {"vote_share": (majority, share)}
    if math.isfinite(majority):
        mean_p = float(votes.dist[int(majority)])
        out["mean_probability"] = (majority, mean_p)
        out["order_weighted"] = (majority, mean_p * (1.0 if votes.consistency is None else votes.consistency))
        cap = s.mean_probability if s.mean_probability is not None else 1.0
        out["judge_confidence"] = (majority, min(share, cap))
    out["simulated_annotators"] = _top(votes.dist)
    return out


def _multi_judge_scores(votes: dict[str, JudgeVotes]) -> dict[str, tuple[float, float]]:
    if not votes:
        return {}
    tops = [_top(v.dist) for v in votes.values()]
    best = max(range(len(tops)), key=lambda i: -1.0 if math.isnan(tops[i][1]) else tops[i][1])
    mean = [sum(col) / len(votes) for col in zip(*(v.dist for v in votes.values()), strict=True)]
    return {"most_confident_judge": tops[best], "judge_ensemble": _top(mean)}


def _rating_scores(item: ItemInput) -> dict[str, tuple[float, float]]:
    """Rating items: every judge-only candidate is the primary judge's (capped) vote share."""
    s = item.signals
    if s.vote_share is None or s.verdict_rating is None:
        return {}
    share = s.vote_share if s.mean_probability is None else min(s.vote_share, s.mean_probability)
    return {name: (float(s.verdict_rating), share) for name in JUDGE_ONLY if name != "cascade"}


def item_scores(item: ItemInput) -> dict[str, tuple[float, float]]:
    """Every single-stage judge-only candidate of one item: name -> (verdict, score)."""
    if item.task == "rating":
        return _rating_scores(item)
    votes = judge_votes(item)
    return {**_primary_scores(item, votes.get(item.primary_judge)), **_multi_judge_scores(votes)}


def cascade_order(items: Sequence[ItemInput]) -> list[str]:
    """Judges cheapest first: fewest recorded tokens per vote, then the order they first appear
    in (a file lists its judges as its producer ran them). Depends on no label."""
    seen: dict[str, list[int]] = {}
    for it in items:
        for j in it.judgments:
            seen.setdefault(j.judge, []).append(j.prompt_tokens + j.completion_tokens)
    first = {judge: i for i, judge in enumerate(seen)}
    return sorted(seen, key=lambda judge: (float(np.mean(seen[judge])), first[judge]))


def cascade_stages(items: Sequence[ItemInput], order: Sequence[str]) -> list[Stage]:
    """One stage per judge in ``order``: that judge's simulated-annotators verdict and score."""
    votes = [judge_votes(it) if it.task == "pairwise" else {} for it in items]
    stages = []
    for judge in order:
        pairs = [_top(v[judge].dist) if judge in v else (math.nan, math.nan) for v in votes]
        stages.append(Stage(np.array([p[1] for p in pairs]), np.array([p[0] for p in pairs])))
    return stages


def judge_only_stages(items: Sequence[ItemInput], order: Sequence[str] | None = None) -> dict[str, list[Stage]]:
    """Every judge-only candidate's stages for ``items``; ``order`` fixes the cascade's judges
    (default ``cascade_order(items)``)."""
    per_item = [item_scores(it) for it in items]
    out = {}
    for name in JUDGE_ONLY:
        if name == "cascade":
            continue
        pairs = [p.get(name, (np.nan, np.nan)) for p in per_item]
        out[name] = [Stage(np.array([p[1] for p in pairs], dtype=float), np.array([p[0] for p in pairs], dtype=float))]
    out["cascade"] = cascade_stages(items, cascade_order(items) if order is None else order)
    return out


def refined(judge: Stage, learned: np.ndarray) -> Stage:
    """``judge`` with its ties broken by the ``learned`` score (see the module docstring); NaN
    where the judge score has none. A weighted mean, so it stays a value in [0, 1] as the held-out
    metrics (Brier, ECE) of the chosen score expect."""
    return Stage((1 - REFINE_WEIGHT) * judge.score + REFINE_WEIGHT * np.nan_to_num(learned, nan=0.0), judge.verdict)


def agreement(stage: Stage, references: np.ndarray, tasks: Sequence[str]) -> np.ndarray:
    """1 where a stage's verdict equals the human reference (within half a point for ratings)."""
    verdict = stage.verdict
    rating = np.array([t == "rating" for t in tasks], dtype=bool)
    with np.errstate(invalid="ignore"):
        same = np.where(rating, np.abs(verdict - references) <= verdicts.RATING_TOLERANCE, verdict == references)
    return (same & np.isfinite(verdict)).astype(int)
