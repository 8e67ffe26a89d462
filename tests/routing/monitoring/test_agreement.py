"""The agreement rule's two forms, ``labels_agree`` (values in memory) and ``agreement_expression``
(SQL, as the trends and the decision filters run it), give one answer on PostgreSQL for generated
verdicts: exact half-point distances, NULLs, pairwise ties (choice 0)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.models import CharField, FloatField, Value
from django.db.models.functions import Cast
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hybridqc.compiled_sql import expression_sql
from routing.batches.models import Example
from routing.monitoring.agreement import agreement_expression, agreement_sql, judge_verdict_sql, judge_verdict_value
from routing.monitoring.metrics import labels_agree

pytestmark = pytest.mark.django_db

# Quarter points around a 1-10 scale (so distances of exactly 0.5 come up often), and any float.
RATINGS = st.one_of(st.none(), st.integers(0, 44).map(lambda q: q / 4),
                    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))
CHOICES = st.one_of(st.none(), st.sampled_from([0, 1, 2]))
VERDICTS = st.one_of(st.tuples(st.just("rating"), RATINGS, RATINGS),
                     st.tuples(st.just("pairwise"), CHOICES, CHOICES))


def _compiled_on_columns(task: str, human: float | None, judge: float | None) -> bool | None:
    """``agreement_sql`` (what the trends embed) over one row of typed columns."""
    sql, params = agreement_sql("x.task", "x.v", "x.judge")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql} FROM (SELECT CAST(%s AS TEXT) AS task, CAST(%s AS DOUBLE PRECISION) AS v, "
                       "CAST(%s AS DOUBLE PRECISION) AS judge) x", [*params, task, human, judge])
        return cursor.fetchone()[0]


def _expression_on_values(task: str, human: float | None, judge: float | None) -> Any:
    """``agreement_expression`` (what the filters use) on literal values (cast: a bare NULL
    parameter has no type in PostgreSQL)."""
    sql, params = expression_sql(agreement_expression(Cast(Value(task), CharField()),
                                                      Cast(Value(human), FloatField()),
                                                      Cast(Value(judge), FloatField())), Example)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql}", params)
        return cursor.fetchone()[0]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(verdicts=VERDICTS)
@example(verdicts=("rating", 7.5, 7.0))
@example(verdicts=("rating", 6.49, 7.0))
@example(verdicts=("rating", 0.1, 0.6))
@example(verdicts=("pairwise", 0, 0))
@example(verdicts=("pairwise", 0, None))
def test_agreement_sql_and_python_agree_on_generated_verdicts(verdicts):
    task, human, judge = verdicts
    expected = labels_agree(task, human, judge)
    assert _compiled_on_columns(task, human, judge) is expected
    assert _expression_on_values(task, human, judge) is expected


@pytest.mark.parametrize(("task", "human", "judge", "agree"), [
    ("rating", 7.5, 7.0, True),  # exactly half a point
    ("rating", 6.25, 7.0, False),
    ("pairwise", 0, 0, True),  # a tie is its own verdict
    ("pairwise", 1, 2, False),
    ("rating", None, 7.0, None),
])
def test_agreement_sql_hand_computed_cases(task, human, judge, agree):
    assert _compiled_on_columns(task, human, judge) is agree
    assert labels_agree(task, human, judge) is agree


@pytest.mark.django_db
@pytest.mark.parametrize(("task", "rating", "choice", "expected"), [
    ("rating", 7.5, 1.0, 7.5), ("rating", None, 1.0, None), ("pairwise", 7.5, 2.0, 2.0), ("pairwise", 3.0, None, None),
])
def test_judge_verdict_sql_and_value_pick_the_same_column(task, rating, choice, expected):
    sql, params = judge_verdict_sql("t.task", "t.rating", "t.choice")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql} FROM (SELECT %s AS task, CAST(%s AS DOUBLE PRECISION) AS rating, "  # noqa: S608
                       f"CAST(%s AS DOUBLE PRECISION) AS choice) t", [*params, task, rating, choice])
        [(by_sql,)] = cursor.fetchall()
    assert by_sql == expected
    assert judge_verdict_value(task, rating, choice) == expected
