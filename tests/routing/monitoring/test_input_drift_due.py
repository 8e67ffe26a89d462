"""When an import's input drift test is due: the import's own count of judgments answers
whether the batch has any without a query (a join PostgreSQL may plan as a walk over every
judgment stored); with none written, the batch's stored judgments answer."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from routing.judging.models import Judgment
from routing.monitoring.input_drift import input_drift_due_at_import
from tests import factories


def _judgment_queries(queries):
    return [q["sql"] for q in queries if Judgment._meta.db_table in q["sql"]]


def test_input_drift_due_at_import_takes_the_written_count_without_a_query(db):
    batch = factories.batch("due", items=[factories.pairwise_item(0)]).batch
    factories.router_trained()
    with CaptureQueriesContext(connection) as queries:
        assert input_drift_due_at_import(batch, judgments_written=2) is True
    assert _judgment_queries(queries.captured_queries) == []


def test_input_drift_due_at_import_reads_stored_judgments_when_none_were_written(db):
    judged = factories.batch("judged", items=[factories.pairwise_item(0)]).batch
    unjudged = factories.batch("unjudged", items=[factories.pairwise_item(0, judgments=[])]).batch
    factories.router_trained()
    with CaptureQueriesContext(connection) as queries:
        assert input_drift_due_at_import(judged, judgments_written=0) is True
    assert len(_judgment_queries(queries.captured_queries)) == 1
    assert input_drift_due_at_import(unjudged, judgments_written=0) is False
