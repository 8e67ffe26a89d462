"""What a routing run stores of its decisions and its batch: each decision as a revert rebuilds it,
the settings a revert restores, the counts and the learned router's version. Plain functions of
the rows' attributes, so the data migration that backfills runs recorded without their decisions
(routing 0016) builds them with the same code as a live routing does, on historical models."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from routing.decisions.models import RoutingDecision

# What a decision row holds besides its example and run: enough to rebuild it exactly.
SNAPSHOT_FIELDS = ("route", "audit", "reason", "confidence", "judge_verdict", "judge_rating", "router_version",
                   "score", "threshold", "audit_probability")

_LEARNED_VERSION = re.compile(r"router-v(\d+)$")


def plain_json(value: Any) -> Any:
    """JSON-safe copy (numpy scalars from a certification become plain numbers)."""
    return json.loads(json.dumps(value, default=lambda x: x.item() if hasattr(x, "item") else str(x)))


def decision_snapshot(decision: RoutingDecision) -> dict[str, Any]:
    return plain_json({"example_id": decision.example_id, **{f: getattr(decision, f) for f in SNAPSHOT_FIELDS}})


def run_settings(batch: Any) -> dict[str, Any]:
    """The batch settings a run applied (and a revert to it restores)."""
    return {"alpha": batch.alpha, "delta": batch.delta, "audit_rate": batch.audit_rate,
            "audit_min_per_domain": batch.audit_min_per_domain,
            "confidence_threshold": batch.confidence_threshold, "seed": batch.seed}


def run_counts(decisions: Sequence[RoutingDecision]) -> dict[str, int]:
    """A run's ``n_routed``, ``n_judge_kept`` and ``n_audited`` from its decisions."""
    return {"n_routed": len(decisions), "n_judge_kept": sum(d.route == RoutingDecision.Route.JUDGE for d in decisions),
            "n_audited": sum(d.audit for d in decisions)}


def learned_version(router_version: str) -> int | None:
    """The RouterModel version a decision's ``router_version`` names; None for the threshold router."""
    match = _LEARNED_VERSION.match(router_version)
    return int(match.group(1)) if match else None
