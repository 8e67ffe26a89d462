"""The audit sample of judge-kept decisions: a fixed share of them, allocated across domains and
drawn stratified by router score, each audit with the probability it had of being drawn (so
estimates from audits can weight each by 1 / p)."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from fractions import Fraction

from routing.batches.models import Batch
from routing.decisions.models import RoutingDecision

Draw = tuple[RoutingDecision, float]  # an audited decision and its inclusion probability


def audit_total(rate: float, n_kept: int) -> int:
    """How many of ``n_kept`` judge-kept items are audited: round(rate * n_kept), never more than
    there are. Python's round (exact halves go to the even number)."""
    return min(n_kept, max(0, round(rate * n_kept)))


def _largest_remainder(weights: Mapping[int, int], total: int, rng: random.Random) -> dict[int, int]:
    """``total`` split in proportion to ``weights`` (exact shares, rounded down, the rest one each
    to the largest remainders; ties in a seeded random order so no domain is always first)."""
    whole = sum(weights.values())
    if total <= 0 or whole == 0:
        return dict.fromkeys(weights, 0)
    shares = {k: Fraction(total * w, whole) for k, w in weights.items()}
    out = {k: math.floor(s) for k, s in shares.items()}
    tiebreak = {k: rng.random() for k in sorted(weights)}
    order = sorted(weights, key=lambda k: (-(shares[k] - out[k]), tiebreak[k]))
    for k in order[: total - sum(out.values())]:
        out[k] += 1
    return out


def audit_allocation(sizes: Mapping[int, int], total: int, floor: int, rng: random.Random) -> dict[int, int]:
    """Audits per domain (domain id -> count), summing to ``total`` (at most the sum of sizes).

    The floor applies only where the total allows it: when every domain can get min(floor, its
    size) within the total, each does, and the rest is spread in proportion to each domain's items
    beyond its floor; otherwise there is no floor and the whole total is spread in proportion to
    domain sizes. Proportional shares are rounded by largest remainder, so no domain gets more
    audits than it has items and the counts add up to the total exactly."""
    floors = {k: min(floor, n) for k, n in sizes.items()}
    if sum(floors.values()) > total:
        floors = dict.fromkeys(sizes, 0)
    rest = _largest_remainder({k: n - floors[k] for k, n in sizes.items()}, total - sum(floors.values()), rng)
    return {k: floors[k] + rest[k] for k in sizes}


def _stratified(items: list[RoutingDecision], want: int, rng: random.Random) -> list[Draw]:
    """``want`` items: sort by router score, cut into ``want`` equal strata, draw one from each,
    so audits cover confident and borderline judge-kept items alike (p = 1 / stratum size)."""
    ordered = sorted(items, key=lambda d: (d.score if d.score is not None else 0.0, d.example.pk))
    bounds = [round(i * len(ordered) / want) for i in range(want + 1)]
    return [(ordered[rng.randrange(lo, hi)], 1 / (hi - lo))
            for lo, hi in zip(bounds, bounds[1:], strict=False) if hi > lo]


def _domain_draw(items: list[RoutingDecision], want: int, rng: random.Random) -> list[Draw]:
    """``want`` of one domain's items: stratified by score when every item has one, else simple."""
    if want == 0:
        return []
    if all(d.score is not None for d in items):
        return _stratified(items, want, rng)
    return [(d, want / len(items)) for d in rng.sample(items, want)]


def audit_sample(batch: Batch, kept: Sequence[RoutingDecision]) -> list[Draw]:
    """A seeded random sample of judge-kept decisions with their inclusion probabilities:
    ``audit_total`` of them, allocated by ``audit_allocation`` (floor: audit_min_per_domain),
    stratified by score within each domain. The same batch and decisions give the same sample."""
    rng = random.Random(f"{batch.seed}:{batch.pk}")
    by_domain: dict[int, list[RoutingDecision]] = defaultdict(list)
    for d in kept:
        by_domain[d.example.domain_id].append(d)
    sizes = {k: len(v) for k, v in by_domain.items()}
    wants = audit_allocation(sizes, audit_total(batch.audit_rate, len(kept)), batch.audit_min_per_domain, rng)
    chosen: list[Draw] = []
    for domain_id in sorted(by_domain):
        items = sorted(by_domain[domain_id], key=lambda d: d.example.pk)
        chosen += _domain_draw(items, wants[domain_id], rng)
    return chosen


def audit_reason(n_audited: int, n_kept: int, by_score: bool) -> str:
    """The audit part of a decision's reason, with the share actually applied."""
    how = "domain and score" if by_score else "domain"
    return f"sampled for audit ({n_audited} of {n_kept} judge-kept = {n_audited / n_kept:.1%}, stratified by {how})"


def audits_mark(*, batch: Batch, kept: Sequence[RoutingDecision]) -> list[RoutingDecision]:
    """Mark the audit sample among ``kept`` (unsaved decisions): audit, its probability, reason."""
    draws = audit_sample(batch, kept)
    if not draws:
        return []
    reason = audit_reason(len(draws), len(kept), by_score=all(d.score is not None for d in kept))
    for d, probability in draws:
        d.audit, d.audit_probability = True, probability
        d.reason += f"; {reason}"
    return [d for d, _ in draws]
