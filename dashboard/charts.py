"""What the control center's drift chart draws (Chart.js, in static/js/trends.js): per batch on
the page, by its date, audit agreement with its 95% band and the override rate; None where a batch
has no value, so the line has a gap there."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from routing.batches.models import Batch


def drift_series(batches: Sequence[Batch], reports: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One point per batch (``reports`` in the same order as ``batches``), oldest date first."""
    points = []
    for batch, r in zip(batches, reports, strict=True):
        ci = r["audit_agreement_ci"] or [None, None]
        points.append({"x": batch.date.isoformat(), "batch": r["batch"], "agreement": r["audit_agreement"],
                       "low": ci[0], "high": ci[1], "override": r["override_rate"]})
    return sorted(points, key=lambda p: p["x"])
