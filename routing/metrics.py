"""The statistics behind every user-facing number. Pure functions over plain values."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple


class Rate(NamedTuple):
    """A proportion with its Wilson 95% interval; ``value`` is None when n == 0."""

    hits: int
    n: int
    value: float | None
    low: float | None
    high: float | None


def wilson_interval(hits: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (default 95%)."""
    if n == 0:
        raise ValueError("wilson_interval needs n > 0")
    p = hits / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(hits: int, n: int) -> Rate:
    if n == 0:
        return Rate(0, 0, None, None, None)
    low, high = wilson_interval(hits, n)
    return Rate(hits, n, hits / n, low, high)


def labels_agree(task: str, human: float | None, judge: float | None) -> bool | None:
    """Whether a human and a judge verdict agree; None when either is missing.
    Pairwise: the same choice (tie counts as its own verdict). Rating: within half a point."""
    if human is None or judge is None:
        return None
    if task == "rating":
        return abs(float(human) - float(judge)) <= 0.5
    return int(human) == int(judge)


def majority_label(values: Sequence[float]) -> float | None:
    """The most common value; None on an empty list or a tie for first place."""
    counts = Counter(values).most_common()
    if not counts or (len(counts) > 1 and counts[0][1] == counts[1][1]):
        return None
    return counts[0][0]


def expected_calibration_error(probs: Sequence[float], outcomes: Sequence[int], bins: int = 10) -> float:
    """ECE with equal-width bins: sum over bins of |accuracy - confidence| weighted by bin size."""
    if len(probs) != len(outcomes) or not probs:
        raise ValueError("ECE needs equally long, non-empty sequences")
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, p in enumerate(probs) if (lo <= p < hi) or (b == bins - 1 and p == 1.0)]
        if idx:
            conf = sum(probs[i] for i in idx) / len(idx)
            acc = sum(outcomes[i] for i in idx) / len(idx)
            total += len(idx) / len(probs) * abs(acc - conf)
    return total
