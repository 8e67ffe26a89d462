"""Per-batch figures for the control center and batch pages, in constant time per page.

Design: the figures are computed by SQL aggregates over one batch's rows (dashboard/aggregates.py)
and cached per batch in ``BatchStats``. The cache is never updated by application code: PostgreSQL
statement triggers delete a batch's row in the same transaction as any change to its examples,
decisions, review tasks or labels (routing, re-routing, label submit, adjudication, label import,
bulk SQL alike), so no code path can forget it — a new path needs no bookkeeping. A page reads its
25 batches' rows (one query) and recomputes only the batches changed since they were last shown.

Race: a page computing figures while a write to the same batch is not yet committed would cache
figures that miss it. Triggers hold a shared advisory lock per batch until their transaction ends;
a page caches a batch only if it gets the exclusive lock without waiting (``pg_try_advisory_xact_lock``),
taken before it reads, so every write it cannot see either committed before (and is read) or starts
after (and deletes the row). Without the lock the page shows freshly computed figures, uncached.
SQLite (the embedded demo) has no triggers, hence no cache: its figures are computed per page.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import NamedTuple

from django.db import OperationalError, connection, transaction

from routing.batches.models import Batch
from routing.monitoring.metrics import Rate, WeightedRate

from .aggregates import rates_by_batch, tallies_by_batch
from .label_accuracy import batch_label_accuracy
from .models import BatchStats

log = logging.getLogger(__name__)

# Bumped whenever what is stored changes shape: rows of another format count as missing, so a
# deploy never reads figures an older version cached.
FORMAT = 2
# Must equal LOCK_NAMESPACE in dashboard/migrations/0002_scale_batch_stats.py (the triggers' side).
LOCK_NAMESPACE = 74201


class Figures(NamedTuple):
    counts: dict[str, int]
    agreement: WeightedRate
    override: Rate
    # By domain id, not path: a renamed domain shows its new path on a cached batch too.
    domains: list[dict[str, int]]
    # (value, low, high) of the estimated share of correct labels, or None (dashboard/label_accuracy.py).
    label_accuracy: list[float] | None


def _label_accuracy(batch_id: int) -> list[float] | None:
    estimate = batch_label_accuracy(Batch(pk=batch_id))
    return [estimate.value, estimate.low, estimate.high] if estimate else None


def _compute(batch_id: int) -> Figures:
    counts, domains = tallies_by_batch([batch_id])[batch_id]
    agreement, override = rates_by_batch([batch_id])[batch_id]
    return Figures(counts, agreement, override, domains, _label_accuracy(batch_id))


def _encode(figures: Figures) -> dict[str, str]:
    main = {"format": FORMAT, "counts": figures.counts, "agreement": list(figures.agreement),
            "override": list(figures.override), "label_accuracy": figures.label_accuracy}
    return {"figures": json.dumps(main), "domains": json.dumps(figures.domains)}


def _decode(stats: BatchStats) -> Figures | None:
    main = json.loads(stats.figures)
    if main.get("format") != FORMAT:
        return None
    return Figures(main["counts"], WeightedRate(*main["agreement"]), Rate(*main["override"]),
                   json.loads(stats.domains), main["label_accuracy"])


def _compute_and_cache(batch_id: int) -> Figures:
    """Compute and cache; a deadlock with a writer of this batch (its trigger drops the cached row
    while this transaction stores it) costs only the cache: the figures are shown fresh, uncached."""
    try:
        return _compute_locked(batch_id)
    except OperationalError as exc:
        log.warning("batch %s: figures not cached (%s)", batch_id, type(exc).__name__)
        return _compute(batch_id)


def _compute_locked(batch_id: int) -> Figures:
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, batch_id])
            locked = cursor.fetchone()[0]
            # The counts reach one batch's rows through the example_id indexes. Weighing ~1,000
            # index probes against a scan, the planner picks hash joins that read every review
            # task ever stored (3-4x slower at 1M examples, and growing); the reference query's
            # CTE joins need hash joins, so they are turned back on for it.
            cursor.execute("SET LOCAL enable_hashjoin = off")
            counts, domains = tallies_by_batch([batch_id])[batch_id]
            cursor.execute("SET LOCAL enable_hashjoin TO DEFAULT")
        agreement, override = rates_by_batch([batch_id])[batch_id]
        figures = Figures(counts, agreement, override, domains, _label_accuracy(batch_id))
        if locked:
            BatchStats.objects.update_or_create(batch_id=batch_id, defaults=_encode(figures))
    return figures


def batches_figures(batches: Sequence[Batch]) -> dict[int, Figures]:
    """Each batch's figures: cached where nothing changed since, recomputed (and cached) otherwise."""
    if connection.vendor != "postgresql":
        return {b.pk: _compute(b.pk) for b in batches}
    stored = BatchStats.objects.filter(batch_id__in=[b.pk for b in batches])
    cached = {s.batch_id: figures for s in stored if (figures := _decode(s)) is not None}
    return {b.pk: cached[b.pk] if b.pk in cached else _compute_and_cache(b.pk) for b in batches}
