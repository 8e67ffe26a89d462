"""Reads of batches, domains and the human reference labels (through the ``routing.batches.labels``
port).

Routing never reads reviewer rows itself: labels come through the port."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import QuerySet

from routing.batches.labels import label_source
from routing.batches.models import Batch, Domain, Example


def example_references(examples: Iterable[Example]) -> dict[int, float]:
    """The human reference label per example id (examples without one are absent): the rule is
    ``reviewers.references.label_reference``, reached through the ``routing.batches.labels`` port."""
    return label_source().references(examples)


def labeled_examples() -> QuerySet[Example]:
    """Every example with at least one human label, oldest first (the router's training pool)."""
    return (
        Example.objects.filter(human_labels__isnull=False)
        .distinct()
        .select_related("domain", "batch")
        .order_by("id")
    )


def human_label_count() -> int:
    return label_source().count()


def examples_first_labeled_after(example_ids: Iterable[int], since: datetime) -> set[int]:
    """Of these examples, those whose first human label is later than ``since`` (no router
    trained before ``since`` can have seen them)."""
    return label_source().first_labeled_after(example_ids, since)


def batch_domains(batch: Batch) -> list[Domain]:
    return list(Domain.objects.filter(examples__batch=batch).distinct())
