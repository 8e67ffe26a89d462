"""Which certification a learned-router decision fell under: shared by the router, which
certifies per risk group, and the run record, which stores each group's batch counts."""

from __future__ import annotations

from collections.abc import Collection

from routing.batches.models import Batch, Domain
from routing.decisions.models import RoutingDecision
from routing.scoring.items import domain_source

# Reasons of decisions that reached the certified threshold (no rule sent them to humans first).
OPEN_REASONS = ("router score", "nothing certified")


def domain_risk(batch: Batch, domain: Domain) -> tuple[float, float]:
    """(alpha, delta) for a domain: its own override, else the batch's."""
    alpha = domain.alpha if domain.alpha is not None else batch.alpha
    delta = domain.delta if domain.delta is not None else batch.delta
    return alpha, delta


# The suffix of a risk group of items whose source the router's training part did not have.
UNSEEN = "unseen"


def domain_unseen(path: str, seen: Collection[str] | None) -> bool:
    """Whether items of the domain ``path`` are scored with the router's score for sources without
    history: it keeps one (``seen`` is then the sources it had; None when it keeps none) and the
    domain's source is not among them. Live routing, budget mode and promotion all ask this."""
    return seen is not None and domain_source(path) not in seen


def group_sources(unseen: bool, seen: Collection[str] | None) -> str:
    """How the pages name a group's sources: "all" when the router keeps one score for every item."""
    return "without history" if unseen else ("with history" if seen is not None else "all")


def risk_group(batch: Batch, domain: Domain, seen: Collection[str] | None) -> str:
    """The certification group of a domain's items: "alpha/delta" of its risk, with "/unseen"
    for a domain whose items the router scores apart (``domain_unseen``)."""
    alpha, delta = domain_risk(batch, domain)
    key = f"{alpha:g}/{delta:g}"
    return f"{key}/{UNSEEN}" if domain_unseen(domain.path, seen) else key


def group_risk(group: str) -> tuple[float, float, bool]:
    """(alpha, delta, unseen) of a ``risk_group`` key."""
    parts = group.split("/")
    return float(parts[0]), float(parts[1]), parts[2:] == [UNSEEN]


def decision_is_open(decision: RoutingDecision) -> bool:
    """Whether the router's threshold decided this item (rather than a rule or a cold start)."""
    return decision.score is not None and decision.reason.startswith(OPEN_REASONS)
