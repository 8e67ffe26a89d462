import pytest
from django.contrib.sessions.models import Session

from hybridqc.compiled_sql import insert_params, insert_sql
from reviewers.models import HumanLabel

pytestmark = pytest.mark.django_db


def test_insert_sql_compiles_the_insert_create_runs() -> None:
    sql, fields = insert_sql(HumanLabel)

    assert sql == (
        'INSERT INTO "reviewers_humanlabel" ("example_id", "task_id", "reviewer_id", "annotator", "source", '
        '"choice", "rating", "rationale", "flags", "criteria", "seconds_spent", "created_at") '
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        'RETURNING "reviewers_humanlabel"."id"'
    )
    assert [f.attname for f in fields] == [
        "example_id",
        "task_id",
        "reviewer_id",
        "annotator",
        "source",
        "choice",
        "rating",
        "rationale",
        "flags",
        "criteria",
        "seconds_spent",
        "created_at",
    ]


def test_insert_params_fills_auto_now_add_on_the_instance() -> None:
    label = HumanLabel(example_id=3, source="review", choice=1)
    _, fields = insert_sql(HumanLabel)

    params = insert_params(label, fields)

    assert label.created_at is not None
    assert params[-1] == label.created_at
    assert params[:8] == [3, None, None, "", "review", 1, None, ""]


def test_insert_sql_refuses_a_model_without_an_auto_primary_key() -> None:
    with pytest.raises(ValueError, match="auto primary key"):
        insert_sql(Session)
