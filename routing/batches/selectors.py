"""Reads of batches, domains and the human reference labels (through the ``routing.batches.labels``
port).

Routing never reads reviewer rows itself: labels come through the port."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet

from routing.batches.labels import label_source
from routing.batches.models import Batch, Domain, Example, ExampleSearch, SearchIndexedBatch


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


def search_unindexed_batches() -> list[int]:
    """Ids of the batches the item search's table does not (or no longer) cover whole, oldest
    first; on SQLite none, since its search always scans the prompts."""
    if connection.vendor != "postgresql":
        return []
    marked = SearchIndexedBatch.objects.filter(batch_id=OuterRef("pk"))
    return list(Batch.objects.filter(~Exists(marked)).order_by("pk").values_list("pk", flat=True))


def prompt_contains_q(text: str, *, unindexed: list[int], field: str = "example_id") -> Q:
    """A condition on ``field`` (an example id): the example's prompt contains ``text``, ignoring
    case (Django's icontains: UPPER(prompt) LIKE UPPER('%text%'), with % and _ taken literally).

    On PostgreSQL the search table answers through its trigram index on UPPER(prompt), and the
    prompts of the ``unindexed`` batches (``search_unindexed_batches``) are scanned: a batch whose
    indexing has not run yet is searched all the same, only slower. SQLite scans every prompt."""
    if connection.vendor != "postgresql":
        return Q(**{f"{field}__in": Example.objects.filter(prompt__icontains=text).values("id")})
    matches = ExampleSearch.objects.filter(prompt__icontains=text).values("example_id")
    if unindexed:
        # One set (UNION ALL), not an OR of two IN tests: the planner then joins from the few
        # matches instead of testing every row of the outer query against both sets.
        scanned = Example.objects.filter(batch_id__in=unindexed, prompt__icontains=text).values("id")
        matches = matches.union(scanned, all=True)
    return Q(**{f"{field}__in": matches})
