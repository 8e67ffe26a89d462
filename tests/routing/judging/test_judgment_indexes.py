"""The indexes an import maintains per judgment and example: none that another's leading
column already serves, and the judge config indexed only where set (imported verdicts have none)."""

import pytest
from django.db import connection

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's catalog")


def _indexes(table):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        return dict(cursor.fetchall())


@pytest.mark.django_db
def test_judgment_indexes_are_the_key_the_unique_verdict_and_set_configs():
    indexes = _indexes("routing_judgment")
    assert sorted(indexes) == ["judgment_config_set", "judgment_unique", "routing_judgment_pkey"]
    assert indexes["judgment_config_set"].endswith("(judge_config_id) WHERE (judge_config_id IS NOT NULL)")


@pytest.mark.django_db
def test_example_indexes_have_no_batch_only_index():
    indexes = _indexes("routing_example")
    assert not [d for d in indexes.values() if d.endswith("(batch_id)")]
    assert "example_unique_in_batch" in indexes
