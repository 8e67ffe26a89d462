"""Reads of batches, domains and the human reference labels (through the ``routing.batches.labels``
port).

Routing never reads reviewer rows itself: labels come through the port."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Case, CharField, Exists, F, Func, OuterRef, Q, QuerySet, TextField, Value, When
from django.db.models.functions import Cast
from django.db.models.lookups import IContains

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


class ResponsesText(Func):
    """An example's response texts, one per line: the SQL function the search table's copy uses
    (``routing_responses_text``, migration 0022), so a scanned batch matches as an indexed one. SQLite
    (the demo) has no such function: it reads the stored JSON, near enough for a substring."""

    function = "routing_responses_text"
    output_field = TextField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return Cast(self.source_expressions[0], TextField()).as_sql(compiler, connection)


def text_in_prompt_q(text: str, *, prefix: str = "") -> Q:
    """The search's rule on the prompt (``prefix`` reaches the example from another model)."""
    return Q(IContains(F(f"{prefix}prompt"), text))


def text_in_responses_q(text: str, *, prefix: str = "") -> Q:
    """The search's rule on the responses: their text as the search table copies it."""
    return Q(IContains(ResponsesText(f"{prefix}responses"), text))


def text_found_in(text: str, *, prefix: str = "") -> Case:
    """Where the search finds ``text`` in a row it returned: "prompt", "response" or "both", by the
    two halves of ``text_contains_q``'s rule, computed in the same query as the rows."""
    in_prompt, in_responses = text_in_prompt_q(text, prefix=prefix), text_in_responses_q(text, prefix=prefix)
    return Case(When(in_prompt & in_responses, then=Value("both")), When(in_prompt, then=Value("prompt")),
                When(in_responses, then=Value("response")), default=None, output_field=CharField())


def text_contains_q(text: str, *, unindexed: list[int], field: str = "example_id") -> Q:
    """A condition on ``field`` (an example id): the example's prompt or one of its responses
    contains ``text``, ignoring case (Django's icontains: UPPER(x) LIKE UPPER('%text%'), with % and
    _ taken literally).

    On PostgreSQL the search table answers through its two trigram indexes (a BitmapOr), and the
    ``unindexed`` batches (``search_unindexed_batches``) are scanned: a batch whose indexing has not
    run yet is searched all the same, only slower. SQLite scans every example."""
    in_prompt, in_responses = text_in_prompt_q(text), text_in_responses_q(text)
    scan = in_prompt | in_responses
    if connection.vendor != "postgresql":
        return Q(**{f"{field}__in": Example.objects.filter(scan).values("id")})
    found = Q(prompt__icontains=text) | Q(responses__icontains=text)
    matches = ExampleSearch.objects.filter(found).values("example_id")
    if unindexed:
        # One set (UNION ALL), not an OR of two IN tests: the planner then joins from the few
        # matches instead of testing every row of the outer query against both sets.
        matches = matches.union(Example.objects.filter(scan, batch_id__in=unindexed).values("id"), all=True)
    return Q(**{f"{field}__in": matches})
