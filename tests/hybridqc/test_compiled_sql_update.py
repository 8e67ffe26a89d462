import pytest

from hybridqc.compiled_sql import update_sql
from routing.batches.models import Example

pytestmark = pytest.mark.django_db


def test_update_sql_compiles_the_update_the_queryset_runs() -> None:
    sql, params = update_sql(Example.objects.filter(pk=5), reviewed_reference=1.5)

    assert sql == 'UPDATE "routing_example" SET "reviewed_reference" = %s WHERE "routing_example"."id" = %s'
    assert params == [1.5, 5]


def test_update_sql_refuses_a_filter_on_another_table() -> None:
    with pytest.raises(ValueError, match="one table"):
        update_sql(Example.objects.filter(batch__name="x"), reviewed_reference=1.5)
