"""The index mark against a concurrent import, with real transactions on PostgreSQL (threads, each
with its own connection): whichever takes the batch's advisory lock first, a batch is never left
marked indexed while one of its examples lacks its search row."""

import threading
import time

import pytest
from django.db import connection, connections, transaction

from routing.batches.models import Example, ExampleSearch, SearchIndexedBatch
from routing.batches.search import example_search_index
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)
WAIT = 20.0


def _thread(target):
    """Run ``target`` on a thread with its own connection, closed after; errors come back."""
    errors: list[BaseException] = []

    def run():
        try:
            target()
        except BaseException as error:  # handed to the test, which raises it
            errors.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def _advisory_waiter_seen():
    """Wait until a session waits for an advisory lock (the other side is blocked on it)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            if cursor.fetchone()[0]:
                return
        time.sleep(0.02)
    raise AssertionError("no session waited on the batch's advisory lock")


def _new_example(batch, n):
    domain = Example.objects.filter(batch=batch).first().domain
    return Example.objects.create(batch=batch, external_id=f"late-{n}", line_number=100 + n, domain=domain,
                                  task="pairwise", prompt=f"late {n}", responses=["a", "b"])


def _honest(batch):
    """Every example has its search row, or the batch is not marked (so the search scans it)."""
    ids = set(Example.objects.filter(batch=batch).values_list("pk", flat=True))
    rows = set(ExampleSearch.objects.filter(example_id__in=ids).values_list("example_id", flat=True))
    marked = SearchIndexedBatch.objects.filter(batch=batch).exists()
    return (not marked) or ids == rows, marked, len(ids), len(rows)


@pytest.fixture
def batch(transactional_db):
    items = [factories.pairwise_item(i) for i in range(3)]
    return factories.batch("race", items=items).batch


def _join(*pairs):
    for thread, errors in pairs:
        thread.join(WAIT)
        assert not thread.is_alive()
        if errors:
            raise errors[0]


def test_search_index_waits_for_an_uncommitted_import_and_copies_it(batch):
    """The import inserted first (shared lock held): the index's mark waits for its commit, then
    its last pass copies the new example before marking."""
    inserted, release = threading.Event(), threading.Event()

    def import_rows():
        with transaction.atomic():
            _new_example(batch, 1)
            inserted.set()
            assert release.wait(WAIT)

    def index():
        assert inserted.wait(WAIT)
        example_search_index(batch_id=batch.pk)

    importer, indexer = _thread(import_rows), _thread(index)
    _advisory_waiter_seen()  # the index is blocked on the import's shared lock
    release.set()
    _join(importer, indexer)
    assert _honest(batch) == (True, True, 4, 4)


def test_search_index_mark_is_taken_back_by_an_import_that_waited(batch):
    """The index holds the exclusive lock (its transaction not committed yet): the import's insert
    waits for it, then takes the mark back in its own transaction; the search scans the batch."""
    indexed, release = threading.Event(), threading.Event()

    def index():
        with transaction.atomic():  # the caller's transaction keeps the lock past the mark
            example_search_index(batch_id=batch.pk)
            indexed.set()
            assert release.wait(WAIT)

    def import_rows():
        assert indexed.wait(WAIT)
        with transaction.atomic():
            _new_example(batch, 1)

    indexer, importer = _thread(index), _thread(import_rows)
    _advisory_waiter_seen()  # the import is blocked on the index's exclusive lock
    release.set()
    _join(indexer, importer)
    assert _honest(batch) == (True, False, 4, 3)


def test_search_index_and_imports_racing_never_leave_a_dishonest_mark(batch):
    """Free races from a barrier, many rounds: the invariant holds after each."""
    for n in range(15):
        barrier = threading.Barrier(2)

        def import_rows(n=n, barrier=barrier):
            barrier.wait(WAIT)
            with transaction.atomic():
                _new_example(batch, n)

        def index(barrier=barrier):
            barrier.wait(WAIT)
            example_search_index(batch_id=batch.pk)

        _join(_thread(import_rows), _thread(index))
        honest, _, examples, _ = _honest(batch)
        assert (honest, examples) == (True, 4 + n), n
