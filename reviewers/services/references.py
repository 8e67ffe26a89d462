"""The stored reviewed reference (``Example.reviewed_reference``): what the review labels of an
example say by the one rule, ``reviewers.references.label_reference``, kept in step with the labels.

Every write that adds, deletes or changes a review label, or changes whether one is an
adjudication (its task's kind, its task's deletion), calls ``example_reference_refresh`` (or,
when ``task_lock`` locked the example already, ``example_reference_store``) in its own
transaction, so the SQL readers (the control center, trends, the decision filters) read a column
instead of re-deriving the rule. Imports write ``source='import'`` labels only, which the reviewed
reference leaves out, so they need no call.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, FloatField, QuerySet, Value, When

from hybridqc.compiled_sql import SENTINEL_FLOAT, SENTINEL_ID, CompiledSQL, compile_bound, queryset_sql, update_sql
from routing.batches.models import Example

from ..models import HumanLabel, ReviewTask
from ..references import references_of


def _references_write(values: dict[int, float | None]) -> None:
    """One UPDATE for all the examples: each gets its value, None where it has no reference."""
    cases = [When(pk=pk, then=Value(v)) for pk, v in values.items() if v is not None]
    Example.objects.filter(pk__in=list(values)).update(
        reviewed_reference=Case(*cases, default=Value(None), output_field=FloatField())
    )


def _review_labels(example_ids: list[int]) -> QuerySet[HumanLabel]:
    """The labels the reviewed reference is of, in the order the rule reads them."""
    return HumanLabel.objects.filter(example_id__in=example_ids, source=HumanLabel.Source.REVIEW).order_by(
        "example_id", "created_at", "id"
    )


# A submit stores the reference of one example on every request: its two statements are compiled
# once per process (building the querysets cost more CPU than the rest of the label write).
@functools.cache
def _one_compiled(vendor: str) -> tuple[CompiledSQL, CompiledSQL]:
    """One example's labels (with their task's kind) and the UPDATE of its reference."""

    def labels(example: int) -> tuple[str, list[Any]]:
        return queryset_sql(_review_labels([example]).values_list("task_id", "task__kind", "rating", "choice"))

    def write(example: int, value: float) -> tuple[str, list[Any]]:
        return update_sql(Example.objects.filter(pk=example), reviewed_reference=value)

    return (compile_bound(labels, example=SENTINEL_ID), compile_bound(write, example=SENTINEL_ID, value=SENTINEL_FLOAT))


def _one_store(example_id: int, task: str) -> float | None:
    """``example_reference_store`` of one example, by the same rule, on the compiled statements."""
    read, write = _one_compiled(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(read.sql, read.bind(example=example_id))
        labels = [
            HumanLabel(
                example_id=example_id,
                rating=rating,
                choice=choice,
                task=ReviewTask(pk=task_id, kind=kind) if task_id is not None else None,
            )
            for task_id, kind, rating, choice in cursor.fetchall()
        ]
        value = references_of(labels, {example_id: task}).get(example_id)
        cursor.execute(write.sql, write.bind(example=example_id, value=value))
    return value


def example_reference_store(*, tasks: Mapping[int, str]) -> dict[int, float | None]:
    """Recompute and store the reviewed reference of examples whose rows this transaction has
    locked already (``tasks``: example id -> its task), e.g. by ``task_lock``; returns what was stored.

    Locked first, then read: two transactions that change labels of one example take turns, and
    the later one reads the earlier one's label (read before the lock, it could miss a label
    committed meanwhile and store a stale reference)."""
    if not tasks:
        return {}
    if len(tasks) == 1:
        ((example_id, task),) = tasks.items()
        return {example_id: _one_store(example_id, task)}
    labels = _review_labels(list(tasks)).select_related("task")
    found = references_of(labels, tasks)
    values = {pk: found.get(pk) for pk in tasks}
    _references_write(values)
    return values


def example_reference_refresh(*, example_ids: Iterable[int]) -> dict[int, float | None]:
    """Lock the examples' rows (in id order), then recompute and store their reviewed reference
    (``example_reference_store``). The lock is FOR NO KEY UPDATE: inserting a label takes KEY
    SHARE on its example (the foreign key check), and two submits each holding that while
    waiting for FOR UPDATE would deadlock."""
    ids = sorted(set(example_ids))
    if not ids:
        return {}
    # No savepoint: inside the caller's transaction (the usual case) this adds no statement.
    with transaction.atomic(savepoint=False):
        examples = Example.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk")
        return example_reference_store(tasks=dict(examples.values_list("pk", "task")))


def task_label_examples(task_ids: Iterable[int]) -> set[int]:
    """The examples whose reference depends on these tasks: those of the labels written for them
    (a task's kind says whether its label is an adjudication)."""
    return set(HumanLabel.objects.filter(task_id__in=list(task_ids)).values_list("example_id", flat=True))


def review_tasks_admin_delete(*, tasks: Iterable[ReviewTask]) -> int:
    """Delete review tasks by hand (the admin). Their labels stay, no longer tied to a task, so an
    adjudicator's label stops deciding: the references of those examples are refreshed."""
    ids = [t.pk for t in tasks]
    with transaction.atomic():
        examples = task_label_examples(ids)
        deleted, _ = ReviewTask.objects.filter(pk__in=ids).delete()
        example_reference_refresh(example_ids=examples)
    return deleted
