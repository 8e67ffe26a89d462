"""Reads over a batch's stored routing runs: which earlier run a revert would restore."""

from __future__ import annotations

from routing.models import Batch, RoutingRun


def routing_run_revert_target(batch: Batch) -> RoutingRun | None:
    """The run before the batch's latest one (the one "revert" restores), if it stored its
    decisions. Reverting a revert restores the run it replaced."""
    runs = RoutingRun.objects.filter(batch=batch).order_by("-created_at", "-id").defer("snapshot")
    latest = runs.first()
    if latest is None:
        return None
    earlier = RoutingRun.objects.filter(batch=batch).exclude(pk=latest.pk).exclude(snapshot=[])
    return earlier.order_by("-created_at", "-id").first()
