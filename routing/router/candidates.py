"""Candidate confidence scores: each gives, per item, the verdict it would keep and a score.

Which score ranks judge errors best differs from one data set to the next (vote shares are
uninformative when each judge votes once; a judge's own probability may be strong or weak), so
the router does not fix one: ``routing.router.selection`` chooses among these by cross-validation
on the training history. Every candidate is judge-only (no fitting) except the learned ones,
which ``routing.router.selection`` fits on the training part.

A vote with choice ``c`` and probability ``p`` (the judge's own, from its log-probabilities) is
read as the class distribution P(c) = p with the rest spread over the other verdicts; a vote
without a probability counts as P(c) = 1. A score is NaN where the candidate has no verdict.
A cascade has several stages (one per judge, cheapest first); the others have one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from routing.services.signals import Signals

from .features import ItemInput

# Pairwise verdicts are 0 (tie), 1 and 2.
N_CLASSES = 3
JUDGE_ONLY = ("judge_confidence", "vote_share", "mean_probability", "order_weighted", "simulated_annotators",
              "most_confident_judge", "judge_ensemble", "cascade")
LEARNED = ("learned", "learned_text")
CANDIDATES = JUDGE_ONLY + LEARNED


@dataclass
class Stage:
    """One stage of a candidate: per item the verdict it keeps and its score (NaN = none)."""

    score: np.ndarray
    verdict: np.ndarray


@dataclass
class JudgeVotes:
    """One judge's usable pairwise votes on one item."""

    dist: np.ndarray  # mean class distribution over the votes ("simulated annotators")
    counts: np.ndarray  # votes per verdict
    consistency: float | None  # share of (variant, sample) pairs that agree across orders


def vote_distribution(choice: int, probability: float | None) -> np.ndarray:
    """A vote as a distribution over the verdicts (see the module docstring)."""
    p = 1.0 if probability is None or not np.isfinite(probability) else min(max(float(probability), 0.0), 1.0)
    out = np.zeros(N_CLASSES)
    if choice in (1, 2):
        out[choice], out[3 - choice] = p, 1.0 - p  # a pairwise judge's remainder is the other response
    else:
        out[:] = (1.0 - p) / 2
        out[0] = p
    return out


def judge_votes(item: ItemInput) -> dict[str, JudgeVotes]:
    """Per judge (in the order they appear), its usable votes on a pairwise item."""
    by_judge: dict[str, list] = {}
    for j in item.judgments:
        if j.usable and j.choice is not None and 0 <= j.choice < N_CLASSES:
            by_judge.setdefault(j.judge, []).append(j)
    out = {}
    for judge, votes in by_judge.items():
        dist = np.mean([vote_distribution(int(v.choice), v.probability) for v in votes], axis=0)
        counts = np.bincount([int(v.choice) for v in votes], minlength=N_CLASSES).astype(float)
        pairs: dict[tuple[str, int], dict[str, int]] = {}
        for v in votes:
            pairs.setdefault((v.variant, v.sample), {})[v.order] = int(v.choice)
        both = [p for p in pairs.values() if "ab" in p and "ba" in p]
        consistency = sum(p["ab"] == p["ba"] for p in both) / len(both) if both else None
        out[judge] = JudgeVotes(dist, counts, consistency)
    return out


def _top(values: np.ndarray) -> tuple[float, float]:
    """(verdict, value) of the largest entry; NaN verdict when two tie for first place."""
    order = np.argsort(-values, kind="stable")
    if values[order[0]] <= 0 or np.isclose(values[order[0]], values[order[1]]):
        return np.nan, np.nan
    return float(order[0]), float(values[order[0]])


def _primary_scores(item: ItemInput, votes: JudgeVotes | None) -> dict[str, tuple[float, float]]:
    """The single-judge candidates of the primary judge: name -> (verdict, score)."""
    s: Signals = item.signals
    if votes is None:
        return {}
    majority, share = _top(votes.counts / max(votes.counts.sum(), 1.0))
    out = {"vote_share": (majority, share)}
    if np.isfinite(majority):
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
    best = max(range(len(tops)), key=lambda i: -1.0 if np.isnan(tops[i][1]) else tops[i][1])
    return {"most_confident_judge": tops[best],
            "judge_ensemble": _top(np.mean([v.dist for v in votes.values()], axis=0))}


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
    stages = []
    for judge in order:
        pairs = []
        for it in items:
            votes = judge_votes(it).get(judge) if it.task == "pairwise" else None
            pairs.append(_top(votes.dist) if votes is not None else (np.nan, np.nan))
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


def agreement(stage: Stage, references: np.ndarray, tasks: Sequence[str]) -> np.ndarray:
    """1 where a stage's verdict equals the human reference (within half a point for ratings)."""
    verdict = stage.verdict
    rating = np.array([t == "rating" for t in tasks], dtype=bool)
    with np.errstate(invalid="ignore"):
        same = np.where(rating, np.abs(verdict - references) <= 0.5, verdict == references)
    return (same & np.isfinite(verdict)).astype(int)
