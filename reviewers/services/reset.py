"""Taking back routed work when a batch is routed again (a re-judge or a re-route)."""

from __future__ import annotations

from django.db import transaction

from routing.batches.models import Batch

from ..models import HumanLabel, ReviewTask

# What a reset may take back: the routing's own tasks, while nobody has taken them.
RESET_KINDS = [ReviewTask.Kind.ROUTED, ReviewTask.Kind.AUDIT]
RESET_STATUSES = [ReviewTask.Status.OPEN, ReviewTask.Status.UNSTAFFED]


def batch_examples_started(batch: Batch) -> set[int]:
    """Ids of the batch's examples a reviewer has started on: someone holds a lease on a task of
    it, or has labeled it (imported labels do not count). Re-routing leaves these alone."""
    leased = ReviewTask.objects.filter(example__batch=batch, status=ReviewTask.Status.LEASED)
    labeled = HumanLabel.objects.filter(example__batch=batch, source=HumanLabel.Source.REVIEW)
    return set(leased.values_list("example_id", flat=True)) | set(labeled.values_list("example_id", flat=True))


def review_tasks_untaken_delete(*, batch: Batch) -> set[int]:
    """Delete the batch's routed and audit tasks nobody has taken (open or unstaffed) of the
    examples nobody has started on. Returns the ids of the started examples (left alone)."""
    with transaction.atomic():
        # Lock the untaken tasks before reading who has started: a claim skips locked rows, and
        # a claim that locked one first has made it leased by then, so its example is left alone.
        untaken = list(
            ReviewTask.objects.select_for_update(of=("self",))
            .filter(example__batch=batch, kind__in=RESET_KINDS, status__in=RESET_STATUSES)
            .values_list("pk", flat=True)
        )
        started = batch_examples_started(batch)
        ReviewTask.objects.filter(pk__in=untaken).exclude(example_id__in=started).delete()
    return started
