"""How much a score would keep once certified: the expected coverage of Learn-then-Test with n
calibration items distributed like a given (out-of-fold) sample. The router ranks its candidate
scores by this (``routing.scoring.selection``).

At each threshold of the fixed sequence certification would try on n items
(``calibration_grid``: ``certify.threshold_grid``'s kept shares), the sample gives the kept
share q and the error rate e among kept items; with n calibration items, about q n are kept and
their errors are Binomial(q n, e), so the threshold passes with probability
P(Binomial(q n, e) <= k_max), k_max the most errors the Clopper-Pearson bound allows. The
expected coverage sums the increments of q weighted by the probability of passing every threshold
up to there (taken as independent, which understates it a little for every candidate alike). A
smooth estimate: a plug-in pass/fail would jump between 0 and the full share on one error more or
less, and rank candidates by that noise.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.stats import beta as beta_dist
from scipy.stats import binom

from routing.scoring.candidates import Stage
from routing.scoring.certify import GRID_STEPS, start_kept


@lru_cache(maxsize=8192)
def max_errors(n: int, alpha: float, delta: float) -> int:
    """The most errors among n kept items whose one-sided (1 - delta) Clopper-Pearson upper bound
    is <= alpha (-1 when even none is enough)."""
    if n <= 0:
        return -1
    k = np.arange(n)
    ok = np.flatnonzero(beta_dist.ppf(1 - delta, k + 1, n - k) <= alpha)
    return int(ok[-1]) if ok.size else -1


def calibration_grid(scores: np.ndarray, n_calibration: int) -> list[float]:
    """The thresholds, strictest first, that ``certify.threshold_grid`` would try on
    ``n_calibration`` items distributed like the sample ``scores``: the same kept shares, read off
    the sample. A grid built on the sample itself would start where a sample of its size starts
    (half of a small history) and misstate what a larger calibration part can certify."""
    finite = np.sort(scores[np.isfinite(scores)])[::-1]
    if finite.size == 0:
        return []
    n = max(1, round(n_calibration * finite.size / scores.size))
    first = start_kept(n) - 1
    kept = np.unique(np.linspace(first, n - 1, min(GRID_STEPS, n - first)).round().astype(int)) + 1
    ranks = np.clip((kept * finite.size + n - 1) // n - 1, 0, finite.size - 1)  # ceil(share * size) - 1, exactly
    return sorted({float(finite[r]) for r in ranks}, reverse=True)


def _stage_coverage(scores: np.ndarray, ok: np.ndarray, n_calibration: int, alpha: float,
                    delta: float) -> tuple[float, float | None]:
    """(expected kept share, the most likely last threshold to pass) of one stage."""
    expected, reach, previous, likely = 0.0, 1.0, 0.0, None
    for t in calibration_grid(scores, n_calibration):
        kept = scores >= t
        share = float(kept.mean())
        n = round(share * n_calibration)
        k_max = max_errors(n, alpha, delta)
        reach *= float(binom.cdf(k_max, n, float((1 - ok[kept]).mean()))) if k_max >= 0 else 0.0
        expected += (share - previous) * reach
        previous = share
        if reach >= 0.5:
            likely = t
        if reach < 1e-3:
            break
    return expected, likely


def expected_coverage(stages: list[Stage], correct: list[np.ndarray], *, n_calibration: int, alpha: float,
                      delta: float) -> float:
    """The expected share certification keeps (see the module docstring); a cascade's stages run
    at delta / S each on what earlier stages left (at their most likely threshold)."""
    left = np.ones(stages[0].score.size, dtype=bool)
    covered = 0.0
    for stage, ok in zip(stages, correct, strict=True):
        scores = np.where(left, np.nan_to_num(stage.score, nan=-np.inf), -np.inf)
        scores = np.where(np.isinf(scores), np.nan, scores)
        expected, likely = _stage_coverage(scores, ok, n_calibration, alpha, delta / len(stages))
        covered += expected
        if likely is not None:
            left &= ~(np.nan_to_num(scores, nan=-np.inf) >= likely)
    return covered
