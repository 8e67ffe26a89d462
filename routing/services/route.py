"""Routing decisions. The threshold router of #2: rules first, then a confidence threshold,
then a random audit sample of what the judge kept."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

from django.db import transaction

from routing.models import Batch, Example, JudgeSignals, RoutingDecision

THRESHOLD_ROUTER = "threshold-v1"


def confidence_of(signals: JudgeSignals) -> float | None:
    """The #2 confidence: the vote share, capped by the judge's own mean probability if given."""
    if signals.vote_share is None:
        return None
    if signals.mean_probability is not None:
        return min(signals.vote_share, signals.mean_probability)
    return signals.vote_share


def rule_reason(example: Example, signals: JudgeSignals | None) -> str | None:
    """Reasons that send an example to humans whatever the judge's confidence."""
    if example.domain.always_human:
        return f"domain {example.domain.path} is always-human"
    if example.flagged:
        return "flagged for human review"
    if signals is None or signals.n_usable == 0:
        reason = signals.failure_reason if signals else "not judged"
        return f"no usable judge verdict ({reason})"
    if signals.tied:
        return f"tied judge vote ({signals.n_usable} votes)"
    if signals.position_biased:
        return "position-biased: the judge's verdict flips when the responses are swapped"
    return None


def threshold_decision(example: Example, signals: JudgeSignals | None, threshold: float) -> RoutingDecision:
    decision = RoutingDecision(example=example, router_version=THRESHOLD_ROUTER, threshold=threshold)
    if signals is not None:
        decision.judge_verdict, decision.judge_rating = signals.verdict, signals.verdict_rating
        decision.confidence = confidence_of(signals)
    reason = rule_reason(example, signals)
    if reason is None and decision.confidence is not None and decision.confidence < threshold:
        reason = f"confidence {decision.confidence:.2f} below threshold {threshold:.2f}"
    decision.route = RoutingDecision.Route.HUMAN if reason else RoutingDecision.Route.JUDGE
    decision.reason = reason or f"confidence {decision.confidence:.2f} >= threshold {threshold:.2f}"
    return decision


def audit_sample(batch: Batch, kept: Sequence[RoutingDecision]) -> list[RoutingDecision]:
    """A seeded random sample of judge-kept decisions: audit_rate of each domain, at least
    audit_min_per_domain where the domain has that many."""
    rng = random.Random(f"{batch.seed}:{batch.pk}")
    by_domain: dict[int, list[RoutingDecision]] = defaultdict(list)
    for d in kept:
        by_domain[d.example.domain_id].append(d)
    chosen = []
    for domain_id in sorted(by_domain):
        items = sorted(by_domain[domain_id], key=lambda d: d.example.pk)
        want = max(round(len(items) * batch.audit_rate), min(batch.audit_min_per_domain, len(items)))
        chosen += rng.sample(items, min(want, len(items)))
    return chosen


def decisions_save(*, decisions: Sequence[RoutingDecision]) -> None:
    """Replace the routing decisions of these examples."""
    with transaction.atomic():
        RoutingDecision.objects.filter(example__in=[d.example for d in decisions]).delete()
        RoutingDecision.objects.bulk_create(decisions, batch_size=2000)


def batch_route_threshold(*, batch: Batch, examples: Sequence[Example]) -> list[RoutingDecision]:
    """Route examples with the batch's confidence threshold and mark the audit sample."""
    key = batch.primary_judge
    signals = {s.example_id: s for s in JudgeSignals.objects.filter(example__in=examples, judge_key=key)}
    decisions = [threshold_decision(e, signals.get(e.pk), batch.confidence_threshold) for e in examples]
    kept = [d for d in decisions if d.route == RoutingDecision.Route.JUDGE]
    for d in audit_sample(batch, kept):
        d.audit = True
        d.reason += f"; sampled for audit ({batch.audit_rate:.0%})"
    decisions_save(decisions=decisions)
    return decisions
