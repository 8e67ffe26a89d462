"""When two rating verdicts count as the same verdict: the one constant of the agreement rule.

It sits at the bottom of routing because every layer compares ratings: the judge's own vote share
(``routing.judging.signals``), the candidates' agreement with the reference (``routing.scoring``),
the human/judge agreement in memory (``routing.monitoring.metrics.labels_agree``) and in SQL
(``routing.monitoring.agreement``). Each reads ``RATING_TOLERANCE`` from this module at call time,
so changing it here changes them all (tests/dashboard/test_agreement_consumers.py)."""

from __future__ import annotations

# How far apart two ratings may be and still agree (ends included).
RATING_TOLERANCE = 0.5


def ratings_agree(a: float, b: float) -> bool:
    """Whether two ratings agree: within ``RATING_TOLERANCE`` of each other."""
    return abs(float(a) - float(b)) <= RATING_TOLERANCE
