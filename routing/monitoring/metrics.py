"""The statistics behind every user-facing number. Pure functions over plain values."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction
from typing import Any, NamedTuple

from routing.batches import verdicts


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
    return _wilson(hits / n, n, z)


def _wilson(p: float, n: float, z: float = 1.959963984540054) -> tuple[float, float]:
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(hits: int, n: int) -> Rate:
    if n == 0:
        return Rate(0, 0, None, None, None)
    low, high = wilson_interval(hits, n)
    return Rate(hits, n, hits / n, low, high)


class WeightedRate(NamedTuple):
    """An inverse-probability-weighted proportion; ``hits`` and ``n`` are unweighted counts,
    ``n_eff`` is Kish's effective sample size. ``value`` is None when n == 0."""

    hits: int
    n: int
    value: float | None
    low: float | None
    high: float | None
    n_eff: float | None


def weighted_rate(outcomes: Sequence[bool], probabilities: Sequence[float]) -> WeightedRate:
    """Hájek estimate of a proportion from items drawn with unequal inclusion probabilities:
    sum(w * outcome) / sum(w) with w = 1 / p, and a Wilson 95% interval on Kish's effective
    sample size n_eff = (sum w)^2 / sum(w^2).

    Sums are exact (fractions), so equal probabilities give exactly hits / n, n_eff == n and the
    unweighted Wilson interval: the weighting can never shift a figure by rounding alone."""
    if len(outcomes) != len(probabilities):
        raise ValueError("weighted_rate needs one probability per outcome")
    if any(not 0 < p <= 1 for p in probabilities):
        raise ValueError("inclusion probabilities must be in (0, 1]")
    weights = [1 / Fraction(p) for p in probabilities]
    return weighted_rate_of_sums(WeightSums(
        hits=sum(bool(o) for o in outcomes), n=len(outcomes), total=sum(weights, Fraction(0)),
        hit_total=sum((w for w, o in zip(weights, outcomes, strict=True) if o), Fraction(0)),
        square_total=sum((w * w for w in weights), Fraction(0)),
    ))


class WeightSums(NamedTuple):
    """What a weighted proportion needs, summable part by part (in SQL, then across groups):
    unweighted hits and n, and the sums of w, of w over the hits, and of w squared."""

    hits: int
    n: int
    total: Fraction
    hit_total: Fraction
    square_total: Fraction

    def plus(self, other: WeightSums) -> WeightSums:
        return WeightSums(self.hits + other.hits, self.n + other.n, self.total + other.total,
                          self.hit_total + other.hit_total, self.square_total + other.square_total)


NO_WEIGHTS = WeightSums(0, 0, Fraction(0), Fraction(0), Fraction(0))


def weighted_rate_of_sums(sums: WeightSums) -> WeightedRate:
    """``weighted_rate`` from its sums: the Hájek estimate hit_total / total and the Wilson
    interval on n_eff = total^2 / square_total. Exact sums keep equal weights exactly hits / n."""
    if sums.n == 0:
        return WeightedRate(0, 0, None, None, None, None)
    value = float(sums.hit_total / sums.total)
    n_eff = float(sums.total * sums.total / sums.square_total)
    low, high = _wilson(value, n_eff)
    return WeightedRate(sums.hits, sums.n, value, low, high, n_eff)


def labels_agree(task: str, human: float | None, judge: float | None) -> bool | None:
    """Whether a human and a judge verdict agree; None when either is missing.
    Pairwise: the same choice (tie counts as its own verdict). Rating: within half a point.
    The form for values in memory; ``routing.monitoring.agreement.agreement_expression`` is the
    same rule in SQL (a property test holds them to one answer)."""
    if human is None or judge is None:
        return None
    if task == "rating":
        return verdicts.ratings_agree(human, judge)
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


def rates_keys(agreement: WeightedRate, override: Rate) -> dict[str, Any]:
    """The agreement and override keys every report prints (batch report, trends): value,
    95% interval (None with nothing measured) and sample size."""
    return {
        "audit_agreement": agreement.value,
        "audit_agreement_ci": [agreement.low, agreement.high] if agreement.n else None,
        "audit_agreement_n": agreement.n,
        "audit_agreement_n_eff": agreement.n_eff,
        "override_rate": override.value,
        "override_rate_ci": [override.low, override.high] if override.n else None,
        "override_rate_n": override.n,
    }
