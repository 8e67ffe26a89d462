"""The item search's table of prompts (PostgreSQL): the indexing task copies a batch's prompts and
marks the batch, idempotently; the examples' triggers unmark a batch that gets new examples and
carry a changed prompt over; deleting a batch takes its rows; the trigram index answers the search."""

import hashlib
import importlib

import pytest
from django.db import connection

from hybridqc.celery import app as celery_app
from routing.batches import search
from routing.batches.models import Batch, Example, ExampleSearch, SearchIndexedBatch
from routing.batches.search import example_search_backfill, example_search_index
from routing.batches.selectors import search_unindexed_batches, text_contains_q
from routing.batches.tasks import example_search_index_run
from tests import factories


def _items(prompts):
    return [factories.pairwise_item(i, prompt=p) for i, p in enumerate(prompts)]


def _rows():
    return sorted(ExampleSearch.objects.values_list("example__external_id", "prompt"))


def _responses():
    return sorted(ExampleSearch.objects.values_list("example__external_id", "responses"))


@pytest.fixture
def frogs(db):
    return factories.batch("frogs", items=_items(["A Frog?", "Toads", "frogman", "Newt"])).batch


def test_example_search_index_copies_every_prompt_and_marks_the_batch(frogs):
    assert search_unindexed_batches() == [frogs.pk]
    assert example_search_index(batch_id=frogs.pk) == 4
    assert _rows() == [("item-0", "A Frog?"), ("item-1", "Toads"), ("item-2", "frogman"), ("item-3", "Newt")]
    assert list(SearchIndexedBatch.objects.values_list("batch_id", flat=True)) == [frogs.pk]
    assert search_unindexed_batches() == []


def test_example_search_index_twice_writes_the_same_rows(frogs):
    assert example_search_index(batch_id=frogs.pk) == 4
    first = _rows()
    assert example_search_index(batch_id=frogs.pk) == 0
    assert _rows() == first
    assert SearchIndexedBatch.objects.count() == 1


def test_example_search_index_in_chunks_copies_the_same_rows(frogs, monkeypatch):
    monkeypatch.setattr(search, "SEARCH_CHUNK", 3)  # 4 prompts: a chunk of 3, then one of 1
    assert example_search_index(batch_id=frogs.pk) == 4
    assert [p for _, p in _rows()] == ["A Frog?", "Toads", "frogman", "Newt"]


def test_example_search_new_examples_unmark_the_batch_until_indexed(frogs):
    example_search_index(batch_id=frogs.pk)
    factories.batch("frogs", items=_items(["A Frog?", "Toads", "frogman", "Newt", "Bullfrog"]))
    assert search_unindexed_batches() == [frogs.pk]  # the insert trigger took the mark
    assert example_search_index(batch_id=frogs.pk) == 1
    assert ("item-4", "Bullfrog") in _rows()
    assert search_unindexed_batches() == []


def test_example_search_reimport_of_the_same_ids_keeps_the_mark(frogs):
    example_search_index(batch_id=frogs.pk)
    factories.batch("frogs", items=_items(["A Frog?", "Toads", "frogman", "Newt"]))
    assert search_unindexed_batches() == []


def test_example_search_changed_prompt_is_carried_over(frogs):
    example_search_index(batch_id=frogs.pk)
    Example.objects.filter(batch=frogs, external_id="item-1").update(prompt="Tree frogs")
    Example.objects.filter(batch=frogs, external_id="item-2").update(flagged=True)  # prompt unchanged
    assert _rows()[1:3] == [("item-1", "Tree frogs"), ("item-2", "frogman")]
    assert search_unindexed_batches() == []


def test_example_search_index_copies_the_responses_one_per_line(frogs):
    example_search_index(batch_id=frogs.pk)
    assert _responses() == [(f"item-{i}", f"Answer A{i}\nAnswer B{i}") for i in range(4)]


def test_example_search_changed_responses_are_carried_over_only_on_change(frogs):
    example_search_index(batch_id=frogs.pk)
    # A mark in the search row shows whether the trigger ran: an update of another column leaves it.
    ExampleSearch.objects.filter(example__external_id="item-2").update(responses="untouched")
    Example.objects.filter(batch=frogs, external_id="item-2").update(flagged=True, reviewed_reference=1.0)
    Example.objects.filter(batch=frogs, external_id="item-1").update(responses=["Ribbit", "Croak"])
    assert _responses()[1:3] == [("item-1", "Ribbit\nCroak"), ("item-2", "untouched")]
    Example.objects.filter(batch=frogs, external_id="item-2").update(responses=["Newt"])
    assert _responses()[2] == ("item-2", "Newt")


def test_example_search_migration_backfill_fills_existing_rows(frogs):
    """0022 fills the responses of rows copied before it (they were written without them)."""
    example_search_index(batch_id=frogs.pk)
    ExampleSearch.objects.update(responses="")
    migration = importlib.import_module("routing.migrations.0022_example_search_responses")
    with connection.cursor() as cursor:
        cursor.execute(migration.BACKFILL)
    assert _responses() == [(f"item-{i}", f"Answer A{i}\nAnswer B{i}") for i in range(4)]


def test_example_search_batch_delete_removes_its_rows(frogs):
    other = factories.batch("other", items=_items(["Frog"])).batch
    example_search_index(batch_id=frogs.pk)
    example_search_index(batch_id=other.pk)
    Batch.objects.filter(pk=frogs.pk).delete()
    assert _rows() == [("item-0", "Frog")]
    assert list(SearchIndexedBatch.objects.values_list("batch_id", flat=True)) == [other.pk]
    Example.objects.filter(batch=other).delete()
    assert ExampleSearch.objects.count() == 0


def test_example_search_vanished_batch_writes_nothing(db):
    assert example_search_index(batch_id=987654) == 0
    assert SearchIndexedBatch.objects.count() == 0


def test_example_search_backfill_indexes_unmarked_batches_oldest_first(frogs):
    other = factories.batch("other", items=_items(["Frog"])).batch
    assert example_search_backfill(seconds=0) == 0  # no time: nothing started
    assert example_search_backfill(seconds=600) == 2
    assert ExampleSearch.objects.count() == 5
    assert search_unindexed_batches() == []
    assert sorted(SearchIndexedBatch.objects.values_list("batch_id", flat=True)) == [frogs.pk, other.pk]


def test_example_search_task_runs_the_service(frogs):
    assert example_search_index_run.apply(args=[frogs.pk]).get() == 4
    assert example_search_index_run.apply(args=[frogs.pk]).get() == 0


def test_example_search_import_queues_the_indexing_on_commit(db, django_capture_on_commit_callbacks):
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True  # the queued task runs in-process when the import commits
    try:
        with django_capture_on_commit_callbacks(execute=True):
            batch = factories.batch("queued", items=_items(["Frog", "Toad"])).batch
    finally:
        celery_app.conf.task_always_eager = previous
    assert _rows() == [("item-0", "Frog"), ("item-1", "Toad")]
    assert search_unindexed_batches() == []
    assert SearchIndexedBatch.objects.get().batch_id == batch.pk


def _matching(text, unindexed):
    return sorted(Example.objects.filter(text_contains_q(text, unindexed=unindexed, field="id"))
                  .values_list("external_id", flat=True))


def test_prompt_contains_reads_the_search_table_of_indexed_batches(frogs):
    example_search_index(batch_id=frogs.pk)
    assert _matching("FROG", []) == ["item-0", "item-2"]
    # The indexed batch is answered by its search rows, not its prompts (which are still scanned
    # for a batch named unindexed).
    ExampleSearch.objects.filter(example__external_id="item-3").update(prompt="only in the search row")
    assert _matching("search row", []) == ["item-3"]
    assert _matching("newt", []) == []
    assert _matching("newt", [frogs.pk]) == ["item-3"]


def test_text_contains_matches_responses_indexed_and_scanned(db):
    items = [factories.pairwise_item(0, prompt="Pond life", responses=["A Frog", "A toad"]),
             factories.pairwise_item(1, prompt="Frogs", responses=["x", "y"]),
             factories.pairwise_item(2, prompt="Newts", responses=["50% frogspawn", "a_b"])]
    batch = factories.batch("mixed", items=items).batch
    assert _matching("FROG", [batch.pk]) == ["item-0", "item-1", "item-2"]  # scanned
    assert _matching("50%", [batch.pk]) == ["item-2"]
    example_search_index(batch_id=batch.pk)
    assert _matching("FROG", []) == ["item-0", "item-1", "item-2"]  # the search rows
    assert _matching("toad", []) == ["item-0"]
    assert _matching("a_b", []) == ["item-2"]
    assert _matching("0% off", []) == []


def test_prompt_contains_takes_percent_and_underscore_literally(db):
    batch = factories.batch("odd", items=_items(["50% off", "500 off", "a_b", "axb"])).batch
    example_search_index(batch_id=batch.pk)
    assert _matching("50%", []) == ["item-0"]
    assert _matching("a_b", []) == ["item-2"]


_EXAMPLES_SQL = """
INSERT INTO routing_example (batch_id, external_id, line_number, domain_id, task, prompt, responses, metadata,
    is_gold, flagged, created_at)
SELECT %s, 'ex-' || g, g, %s, 'pairwise', 'Which is right, ' || md5(g::text) || '?', '[]', '{}',
    false, false, now()
FROM generate_series(1, 100000) g
"""


def test_prompt_contains_plan_uses_the_trigram_index(db):
    """At a realistic size (100k varied prompts, statistics gathered), a rare word is looked up in
    the trigram index of the search table, not by scanning the prompts."""
    batch = factories.batch("big", items=_items(["seed"])).batch
    with connection.cursor() as cursor:
        cursor.execute(_EXAMPLES_SQL, [batch.pk, Example.objects.get().domain_id])
    example_search_index(batch_id=batch.pk)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE routing_examplesearch")
        cursor.execute("ANALYZE routing_example")
    word = hashlib.md5(b"12345").hexdigest()[:10].upper()
    query = Example.objects.filter(text_contains_q(word, unindexed=[], field="id"))
    plan = query.explain()
    assert "routing_examplesearch_prompt_trgm" in plan, plan
    assert list(query.values_list("external_id", flat=True)) == ["ex-12345"]


def test_text_contains_plan_uses_both_trigram_indexes(db):
    """A rare word in prompts or responses: both trigram indexes, no scan of the search table."""
    batch = factories.batch("big", items=_items(["seed"])).batch
    with connection.cursor() as cursor:
        cursor.execute(_EXAMPLES_SQL.replace("'[]'", "jsonb_build_array('Because ' || md5('r' || g))"),
                       [batch.pk, Example.objects.get().domain_id])
    example_search_index(batch_id=batch.pk)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE routing_examplesearch")
        cursor.execute("ANALYZE routing_example")
    word = hashlib.md5(b"r12345").hexdigest()[:10]  # in the response of g = 12345 only
    query = Example.objects.filter(text_contains_q(word, unindexed=[], field="id"))
    plan = query.explain()
    assert "routing_examplesearch_prompt_trgm" in plan, plan
    assert "routing_examplesearch_responses_trgm" in plan, plan
    assert list(query.values_list("external_id", flat=True)) == ["ex-12345"]
