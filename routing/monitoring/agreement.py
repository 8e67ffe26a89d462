"""The agreement rule on the database side: ``agreement_expression`` is
``routing.monitoring.metrics.labels_agree`` as one ORM expression (pairwise: the same choice, a tie
its own verdict; rating: within half a point; NULL when either verdict is missing). The decision
filters use it as a filter, and the reviewed rows of the control center and the trends
(``dashboard.aggregates.reviewed_sql``) embed its compiled SQL (``agreement_sql``), so SQL states
the rule once. ``labels_agree`` stays the form for values in memory; a property test on PostgreSQL
(tests/routing/monitoring/test_agreement.py) holds the two to one answer on generated values."""

from __future__ import annotations

import functools
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Case, CharField, Expression, F, FloatField, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Abs
from django.db.models.lookups import Exact, LessThanOrEqual

from hybridqc.compiled_sql import expression_sql
from routing.batches import verdicts
from routing.batches.models import Example


def agreement_expression(task: Any, human: Any, judge: Any) -> Case:
    """Whether the verdicts ``human`` and ``judge`` agree for an example of task type ``task``
    (each a field name or an expression)."""
    task, human, judge = (F(v) if isinstance(v, str) else v for v in (task, human, judge))
    return Case(
        When(Exact(task, Value(Example.Task.RATING.value)),
             then=LessThanOrEqual(Abs(human - judge, output_field=FloatField()), Value(verdicts.RATING_TOLERANCE))),
        default=Exact(human, judge),
        output_field=BooleanField(),
    )


@functools.lru_cache(maxsize=64)
def _compiled(vendor: str, tolerance: float, task: str, human: str, judge: str) -> tuple[str, tuple[Any, ...]]:
    # ``tolerance`` is read by ``agreement_expression``; it is in the key so that SQL compiled
    # under another tolerance is never reused.
    # The columns are SQL text of the callers' own statements (column names), never user input.
    columns: list[Expression] = [RawSQL(task, (), output_field=CharField()),  # noqa: S611
                                 RawSQL(human, (), output_field=FloatField()),  # noqa: S611
                                 RawSQL(judge, (), output_field=FloatField())]  # noqa: S611
    sql, params = expression_sql(agreement_expression(*columns), Example)
    return sql, tuple(params)


def judge_verdict_expression(task: Any, rating: Any, choice: Any) -> Case:
    """The judge's verdict in the example's terms: its rating for a rating task, else its choice
    (each a field name or an expression). ``judge_verdict_value`` is the same rule in memory."""
    task, rating, choice = (F(v) if isinstance(v, str) else v for v in (task, rating, choice))
    return Case(When(Exact(task, Value(Example.Task.RATING.value)), then=rating), default=choice,
                output_field=FloatField())


def judge_verdict_value(task: str, rating: float | None, choice: float | None) -> float | None:
    return rating if task == Example.Task.RATING else choice


def judge_verdict_sql(task: str, rating: str, choice: str) -> tuple[str, list[Any]]:
    """``judge_verdict_expression`` as SQL on the columns (SQL text) ``task``, ``rating`` and
    ``choice``, with its parameters; compiled once per columns and backend."""
    sql, params = _judge_compiled(connection.vendor, task, rating, choice)
    return sql, list(params)


@functools.lru_cache(maxsize=64)
def _judge_compiled(vendor: str, task: str, rating: str, choice: str) -> tuple[str, tuple[Any, ...]]:
    columns: list[Expression] = [RawSQL(task, (), output_field=CharField()),  # noqa: S611 - column names
                                 RawSQL(rating, (), output_field=FloatField()),  # noqa: S611
                                 RawSQL(choice, (), output_field=FloatField())]  # noqa: S611
    sql, params = expression_sql(judge_verdict_expression(*columns), Example)
    return sql, tuple(params)


def agreement_sql(task: str, human: str, judge: str) -> tuple[str, list[Any]]:
    """``agreement_expression`` as SQL on the columns (SQL text without parameters) ``task``,
    ``human`` and ``judge``, with its parameters; compiled once per columns and backend."""
    sql, params = _compiled(connection.vendor, verdicts.RATING_TOLERANCE, task, human, judge)
    return sql, list(params)
