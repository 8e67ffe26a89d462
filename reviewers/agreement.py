"""Inter-annotator agreement. Pure functions over plain label values.

Cohen's kappa for two raters who labeled the same items; Krippendorff's alpha (nominal) for any
number of raters per item, missing labels allowed. Both return None where undefined (no items,
or every label the same value so chance agreement is already perfect)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """kappa = (p_o - p_e) / (1 - p_e) with p_e from each rater's own label frequencies."""
    if len(a) != len(b):
        raise ValueError("cohen_kappa needs two equally long label sequences")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in ca) / (n * n)
    if expected == 1:
        return None
    return (observed - expected) / (1 - expected)


def krippendorff_alpha_nominal(units: Sequence[Sequence[Hashable]]) -> float | None:
    """alpha = 1 - D_o / D_e over the coincidence matrix; units with fewer than two labels
    carry no pairing information and are left out."""
    coincidence: dict[tuple[Hashable, Hashable], float] = defaultdict(float)
    for values in units:
        m = len(values)
        if m < 2:
            continue
        counts = Counter(values)
        for c in counts:
            for k in counts:
                pairs = counts[c] * (counts[k] - (1 if c == k else 0))
                coincidence[(c, k)] += pairs / (m - 1)
    totals: dict[Hashable, float] = defaultdict(float)
    for (c, _), v in coincidence.items():
        totals[c] += v
    n = sum(totals.values())
    if n <= 1:
        return None
    disagree_obs = sum(v for (c, k), v in coincidence.items() if c != k)
    disagree_exp = sum(totals[c] * totals[k] for c in totals for k in totals if c != k)
    if disagree_exp == 0:
        return None
    return 1 - (n - 1) * disagree_obs / disagree_exp
