"""The COPY import's foreign keys on PostgreSQL: without a query per row where the role may set
session_replication_role (and then the project's triggers still fire and no row is left without
its parent), checked row by row otherwise, with the same rows stored either way."""

import sys

import psycopg
import pytest
from django.db import connection, transaction

from dashboard.models import BatchStats
from reviewers.models import HumanLabel
from routing.batches.models import Batch, Domain, SearchIndexedBatch
from routing.ingest import ingest_copy
from routing.ingest.import_v1 import batch_import
from tests import factories
from tests.routing.ingest.test_import_copy import _mixed_items, _rows

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path runs on PostgreSQL")

# Judgments and labels without their example; examples without their batch or domain.
ORPHANS = """
SELECT (SELECT count(*) FROM routing_judgment c LEFT JOIN routing_example e ON e.id = c.example_id WHERE e.id IS NULL),
       (SELECT count(*) FROM reviewers_humanlabel c LEFT JOIN routing_example e ON e.id = c.example_id
        WHERE e.id IS NULL),
       (SELECT count(*) FROM routing_example e LEFT JOIN routing_batch b ON b.id = e.batch_id
        LEFT JOIN routing_domain d ON d.id = e.domain_id WHERE b.id IS NULL OR d.id IS NULL)
"""


def _skippable():
    with connection.cursor() as cursor:
        return ingest_copy.row_triggers_skippable(cursor.cursor)


def _one(sql):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()


def _search_trigger_origin():
    # Back to the default mode in the test's transaction (rolled back after it): a replica
    # session would skip it, so the import must check its rows one by one.
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE routing_example ENABLE TRIGGER routing_example_search_ins")


def test_project_triggers_all_fire_in_every_replication_role(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname, tgenabled FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname")
        rows = cursor.fetchall()
    assert len(rows) == 14
    assert {mode for _, mode in rows} == {"A"}


def test_row_triggers_skippable_for_a_superuser(db):
    assert _one("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == (True,)
    assert _skippable() is True


def test_row_triggers_skippable_not_for_a_role_without_the_privilege(db):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL ROLE pg_monitor")
        try:
            assert ingest_copy.row_triggers_skippable(cursor.cursor) is False
        finally:
            cursor.execute("RESET ROLE")


def test_row_triggers_skippable_not_while_one_of_ours_would_be_skipped(db):
    _search_trigger_origin()
    assert _skippable() is False


def test_batch_import_copy_unchecked_fires_our_triggers_and_leaves_no_orphans(db):
    batch = factories.batch("keys", items=[factories.pairwise_item(0)]).batch
    SearchIndexedBatch.objects.create(batch=batch)
    BatchStats.objects.create(batch=batch, figures="{}", domains="[]")
    assert _skippable() is True
    result = factories.batch("keys", items=_mixed_items())
    assert (result.created, result.judgments, result.human_labels) == (5, 8, 4)
    assert (SearchIndexedBatch.objects.count(), BatchStats.objects.count()) == (0, 0)
    assert _one(ORPHANS) == (0, 0, 0)
    assert _one("SELECT current_setting('session_replication_role')") == ("origin",)


def test_batch_import_copy_checked_row_by_row_stores_the_same_rows(db):
    unchecked = batch_import(batch_name="unchecked", lines=factories.jsonl(_mixed_items()))
    _search_trigger_origin()
    checked = batch_import(batch_name="checked", lines=factories.jsonl(_mixed_items()))
    assert _rows(checked.batch) == _rows(unchecked.batch)
    assert HumanLabel.objects.filter(example__batch=checked.batch).count() == 4
    assert _one(ORPHANS) == (0, 0, 0)


def test_batch_import_copy_locks_its_domain_and_batch_until_commit(transactional_db):
    # As the foreign-key checks would: another transaction cannot delete either meanwhile.
    batch = Batch.objects.create(name="locks")
    domain = Domain.objects.create(path="locked/one")
    s = connection.settings_dict
    with transaction.atomic(), psycopg.connect(host=s["HOST"], port=s["PORT"] or 5432, user=s["USER"],
                                               dbname=s["NAME"], autocommit=True) as other:
        factories.batch("locks", items=[factories.pairwise_item(0, domain="locked/one")])
        for table, pk in (("routing_domain", domain.pk), ("routing_batch", batch.pk)):
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE NOWAIT", [pk])
        # A shared key lock: another import into the same domain is not held up.
        assert other.execute("SELECT id FROM routing_domain WHERE id = %s FOR KEY SHARE NOWAIT",
                             [domain.pk]).fetchall() == [(domain.pk,)]


def test_batch_import_copy_restores_the_thread_switch_interval(db):
    before = sys.getswitchinterval()
    factories.batch("switch", items=[factories.pairwise_item(0)])
    assert sys.getswitchinterval() == before
