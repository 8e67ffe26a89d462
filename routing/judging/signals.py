"""Judge confidence signals per example: vote share, order consistency, mean probability."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from routing.batches import verdicts
from routing.batches.models import Example
from routing.judging.models import JudgeSignals, Judgment


@dataclass
class Signals:
    n_votes: int = 0
    n_usable: int = 0
    verdict: int | None = None
    verdict_rating: float | None = None
    vote_share: float | None = None
    tied: bool = False
    order_consistency: float | None = None
    position_biased: bool = False
    mean_probability: float | None = None
    parse_failures: int = 0
    failure_reason: str = ""


def _majority(choices: Sequence[int]) -> tuple[int | None, float | None, bool]:
    counts = Counter(choices).most_common()
    if not counts:
        return None, None, False
    top, n_top = counts[0]
    tied = len(counts) > 1 and counts[1][1] == n_top
    return (None if tied else top), n_top / len(choices), tied


def _order_consistency(usable: Sequence[Judgment]) -> tuple[float | None, bool]:
    """Share of (variant, sample) pairs judged in both orders whose verdicts agree, and whether
    the majority verdict itself flips with the order (position bias)."""
    by_order: dict[str, list[int]] = defaultdict(list)
    pairs: dict[tuple[str, int], dict[str, int]] = defaultdict(dict)
    for j in usable:
        assert j.choice is not None
        by_order[j.order].append(j.choice)
        pairs[(j.variant, j.sample)][j.order] = j.choice
    both = [p for p in pairs.values() if "ab" in p and "ba" in p]
    if not both:
        return None, False
    consistency = sum(p["ab"] == p["ba"] for p in both) / len(both)
    ab, _, _ = _majority(by_order["ab"])
    ba, _, _ = _majority(by_order["ba"])
    # Position bias: each order has a clear majority, and they differ.
    return consistency, ab is not None and ba is not None and ab != ba


def signals_from(judgments: Sequence[Judgment], task: str) -> Signals:
    """Pure computation of the confidence signals from one judge's verdicts on one example."""
    usable = [j for j in judgments if j.usable]
    out = Signals(n_votes=len(judgments), n_usable=len(usable))
    out.parse_failures = sum(1 for j in judgments if not j.usable)
    if not usable:
        errors = Counter(j.error for j in judgments if j.error)
        out.failure_reason = errors.most_common(1)[0][0] if errors else "no verdict"
        return out
    probs = [j.probability for j in usable if j.probability is not None]
    out.mean_probability = sum(probs) / len(probs) if probs else None
    if task == "rating":
        ratings = [float(j.rating) for j in usable if j.rating is not None]
        out.verdict_rating = statistics.median(ratings)
        out.vote_share = sum(verdicts.ratings_agree(r, out.verdict_rating) for r in ratings) / len(ratings)
        return out
    out.verdict, out.vote_share, out.tied = _majority([j.choice for j in usable if j.choice is not None])
    out.order_consistency, out.position_biased = _order_consistency(usable)
    return out


def batch_signals_compute(*, examples: Sequence[Example], judge: str) -> int:
    """Compute and store JudgeSignals of one judge for the given examples; returns rows written."""
    key = judge
    by_example: dict[int, list[Judgment]] = defaultdict(list)
    for j in Judgment.objects.filter(example__in=examples, judge=judge):
        by_example[j.example_id].append(j)
    rows = []
    for example in examples:
        s = signals_from(by_example.get(example.pk, []), example.task)
        rows.append(JudgeSignals(example=example, judge_key=key, **s.__dict__))
    JudgeSignals.objects.bulk_create(
        rows,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["example", "judge_key"],
        update_fields=[f for f in Signals.__dataclass_fields__],
    )
    return len(rows)
