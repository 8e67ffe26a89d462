"""Which certification a learned-router decision fell under: shared by the router, which
certifies per risk group, and the run record, which stores each group's batch counts."""

from __future__ import annotations

from routing.batches.models import Batch, Domain
from routing.decisions.models import RoutingDecision

# Reasons of decisions that reached the certified threshold (no rule sent them to humans first).
OPEN_REASONS = ("router score", "nothing certified")


def domain_risk(batch: Batch, domain: Domain) -> tuple[float, float]:
    """(alpha, delta) for a domain: its own override, else the batch's."""
    alpha = domain.alpha if domain.alpha is not None else batch.alpha
    delta = domain.delta if domain.delta is not None else batch.delta
    return alpha, delta


def decision_is_open(decision: RoutingDecision) -> bool:
    """Whether the router's threshold decided this item (rather than a rule or a cold start)."""
    return decision.score is not None and decision.reason.startswith(OPEN_REASONS)
