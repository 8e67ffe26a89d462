"""The COPY import on PostgreSQL: the rows it stores, idempotency, and the streaming read."""

import json

import pytest
from django.db import connection

from reviewers.models import HumanLabel
from routing.batches.models import Batch, Domain, Example
from routing.ingest import ingest_copy
from routing.ingest.import_json import fast_item
from routing.ingest.import_v1 import ImportValidationError, _orm_import, batch_import
from routing.ingest.import_validation import parse_lines, validated_items
from routing.judging.models import Judgment
from tests import factories

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path runs on PostgreSQL")

EXAMPLE_FIELDS = ("external_id", "line_number", "domain__path", "task", "prompt", "responses", "scale_min",
                  "scale_max", "metadata", "is_gold", "flagged")
JUDGMENT_FIELDS = ("example__external_id", "judge", "variant", "order", "sample", "choice", "rating", "scores",
                   "probability", "rationale", "error", "attempts", "prompt_tokens", "completion_tokens")
LABEL_FIELDS = ("example__external_id", "annotator", "source", "choice", "rating", "rationale", "flags", "criteria")


def _rows(batch):
    examples = list(Example.objects.filter(batch=batch).order_by("line_number").values_list(*EXAMPLE_FIELDS))
    judgments = sorted(Judgment.objects.filter(example__batch=batch).values_list(*JUDGMENT_FIELDS), key=repr)
    labels = sorted(HumanLabel.objects.filter(example__batch=batch).values_list(*LABEL_FIELDS), key=repr)
    return examples, judgments, labels


def _mixed_items():
    return [
        factories.pairwise_item(1, metadata={"n": 123456789012345678901234567890, "deep": {"a": [1, {"b": 2}]}}),
        factories.pairwise_item(2, judgments=[{"judge": "g", "choice": None},
                                              {"judge": "g", "choice": 2, "scores": [0.25, 1], "rationale": "r"}]),
        factories.rating_item(3, judgments=[{"judge": "g", "rating": 4.5, "probability": 0.5}],
                              human_labels=[{"annotator": "a", "rating": 3}]),
        factories.pairwise_item(4, domain="  test/spaced  ", human_labels=[]),
        factories.pairwise_item(5, judgments=[{"judge": "g", "choice": 1.0}], human_labels=[{"annotator": "a",
                                                                                              "choice": 2.0}]),
    ]


@postgres_only
def test_batch_import_copy_stores_the_same_rows_as_the_orm_path(db):
    items = _mixed_items()
    copied = batch_import(batch_name="copy", lines=factories.jsonl(items))
    orm_batch = Batch.objects.create(name="orm")
    counts = _orm_import(orm_batch, parse_lines(factories.jsonl(items)))
    assert _rows(copied.batch) == _rows(orm_batch)
    assert (copied.created, copied.judgments, copied.human_labels) == (5, 8, 4)
    assert (counts.created, counts.judgments, counts.human_labels) == (5, 8, 4)


def test_batch_import_copy_keeps_integers_past_64_bits_exact(db):
    batch_import(batch_name="big", lines=factories.jsonl(_mixed_items()[:1]))
    assert Example.objects.get().metadata["n"] == 123456789012345678901234567890


@postgres_only
def test_batch_import_copy_numbers_repeated_samples_in_file_order(db):
    judgments = [{"judge": "g", "order": "ab", "choice": c} for c in (0, 1, 2)]
    factories.batch("samples", items=[factories.pairwise_item(1, judgments=judgments)])
    assert list(Judgment.objects.order_by("sample").values_list("sample", "choice")) == [(0, 0), (1, 1), (2, 2)]


@postgres_only
def test_batch_import_copy_second_file_adds_only_new_ids(db):
    first = factories.batch("grow", items=[factories.pairwise_item(i) for i in range(3)])
    second = factories.batch("grow", items=[factories.pairwise_item(i) for i in range(5)])
    assert (first.created, second.created, second.skipped, second.judgments, second.human_labels) == (3, 2, 3, 4, 2)
    assert Judgment.objects.filter(example__batch=first.batch).count() == 10
    assert HumanLabel.objects.filter(example__batch=first.batch).count() == 5


@postgres_only
def test_batch_import_copy_primary_judge_is_the_files_first(db):
    items = [factories.pairwise_item(1, judgments=[{"judge": "first", "choice": 1}, {"judge": "second", "choice": 1}])]
    assert factories.batch("pj", items=items).batch.primary_judge == "first"


@postgres_only
def test_batch_import_copy_bad_last_line_writes_no_batch_domain_or_rows(db):
    lines = factories.jsonl([factories.pairwise_item(i, domain="fresh/domain") for i in range(300)]) + ["{bad"]
    with pytest.raises(ImportValidationError) as info:
        batch_import(batch_name="late", lines=lines)
    assert [str(e) for e in info.value.errors] == [
        "line 301: (line): invalid JSON: Expecting property name enclosed in double quotes at column 2"]
    assert (Batch.objects.count(), Domain.objects.count(), Example.objects.count(), Judgment.objects.count(),
            HumanLabel.objects.count()) == (0, 0, 0, 0, 0)


def test_validated_items_reads_one_line_per_item_yielded():
    read = []

    def lines():
        for i in range(1000):
            read.append(i)
            yield json.dumps(factories.pairwise_item(i))

    stream = validated_items(lines())
    assert [next(stream)[0] for _ in range(3)] == [1, 2, 3]
    assert len(read) == 3


@pytest.mark.parametrize(
    "text",
    ['{"id": "a\\u0000"}', '{"n": 123456789012345678901}', '{"n": 1e999}', '{"n": NaN}', '{"s": "\\ud800"}',
     '{"m": ' + "[" * 30 + "]" * 30 + "}", "[1]", "{bad"],
    ids=["NUL escape", "integer past 64 bits", "overflowing float", "NaN", "lone surrogate", "deep", "not an object",
         "not JSON"],
)
def test_fast_item_sends_doubtful_lines_to_the_exact_parse(text):
    assert fast_item(text, 20) is None
    assert fast_item(text.encode(), 20) is None


def test_fast_item_reads_a_plain_line_as_json_does():
    text = json.dumps(factories.pairwise_item(1, metadata={"x": [1.5, -2, "é", {"k": None}]}))
    assert fast_item(text, 20) == json.loads(text)
    assert fast_item(text.encode(), 20) == json.loads(text)


@postgres_only
def test_batch_import_copy_stores_copy_format_characters_exactly(db):
    tricky = "tab\there\nnew line\r\\N back\\slash \\. é 😀"
    items = [factories.pairwise_item(1, id="id\twith\\tab", prompt=tricky, responses=[tricky, "\\"],
                                     metadata={"k\n": tricky, "path": "C:\\dir\\"},
                                     judgments=[{"judge": "j\\1", "variant": "v\t", "choice": 1, "rationale": tricky}],
                                     human_labels=[{"annotator": "a\nb", "choice": 2, "rationale": tricky}])]
    copied = batch_import(batch_name="copy", lines=factories.jsonl(items))
    orm_batch = Batch.objects.create(name="orm")
    _orm_import(orm_batch, parse_lines(factories.jsonl(items)))
    assert _rows(copied.batch) == _rows(orm_batch)
    example = Example.objects.get(batch=copied.batch)
    assert (example.external_id, example.prompt, example.responses[1]) == ("id\twith\\tab", tricky, "\\")
    assert example.metadata == {"k\n": tricky, "path": "C:\\dir\\"}
    assert Judgment.objects.get(example=example).rationale == tricky
    assert HumanLabel.objects.get(example=example).annotator == "a\nb"


@postgres_only
def test_batch_import_copy_keeps_the_first_label_of_an_annotator(db):
    labels = [{"annotator": "a", "choice": 1}, {"annotator": "b", "choice": 2}, {"annotator": "a", "choice": 2}]
    items = [factories.pairwise_item(1, human_labels=labels)]
    copied = batch_import(batch_name="copy", lines=factories.jsonl(items))
    orm_batch = Batch.objects.create(name="orm")
    counts = _orm_import(orm_batch, parse_lines(factories.jsonl(items)))
    assert _rows(copied.batch) == _rows(orm_batch)
    assert (copied.human_labels, counts.human_labels) == (2, 3)
    assert sorted(HumanLabel.objects.filter(example__batch=copied.batch).values_list("annotator", "choice")) == [
        ("a", 1), ("b", 2)]


@postgres_only
def test_batch_import_copy_over_several_chunks_numbers_ids_in_line_order(db, monkeypatch):
    monkeypatch.setattr(ingest_copy, "CHUNK_ITEMS", 3)
    monkeypatch.setattr(ingest_copy, "FIRST_ID_BLOCK", 2)
    factories.batch("chunks", items=[factories.pairwise_item(i) for i in (0, 3)])
    result = factories.batch("chunks", items=[factories.pairwise_item(i) for i in range(11)])
    assert (result.created, result.skipped, result.judgments, result.human_labels) == (9, 2, 18, 9)
    rows = list(Example.objects.filter(batch=result.batch).order_by("id").values_list("external_id", flat=True))
    assert rows == [f"item-{i}" for i in (0, 3, 1, 2, 4, 5, 6, 7, 8, 9, 10)]
    assert Judgment.objects.filter(example__batch=result.batch).count() == 22


@postgres_only
def test_batch_import_copy_bad_line_after_several_chunks_writes_nothing(db, monkeypatch):
    monkeypatch.setattr(ingest_copy, "CHUNK_ITEMS", 4)
    lines = factories.jsonl([factories.pairwise_item(i, domain=f"fresh/d{i % 3}") for i in range(20)])
    lines.insert(17, json.dumps(factories.pairwise_item(99, task="ranking")))
    with pytest.raises(ImportValidationError) as info:
        batch_import(batch_name="late", lines=lines)
    assert [str(e) for e in info.value.errors] == ['line 18: task: must be "pairwise" or "rating", got "ranking"']
    assert (Batch.objects.count(), Domain.objects.count(), Example.objects.count(), Judgment.objects.count(),
            HumanLabel.objects.count()) == (0, 0, 0, 0, 0)


@postgres_only
def test_batch_import_copy_leaves_foreign_keys_deferred(db):
    factories.batch("fk", items=[factories.pairwise_item(1)])
    with connection.cursor() as cursor:
        # A deferred key accepts a dangling row until commit; an immediate one refuses it at once.
        cursor.execute("SAVEPOINT fk")
        cursor.execute(f"INSERT INTO {Judgment._meta.db_table} (example_id, judge, variant, \"order\", sample, "
                       "rationale, error, attempts, prompt_tokens, completion_tokens, created_at) "
                       "VALUES (-1, 'g', '', 'ab', 0, '', '', 1, 0, 0, now())")
        cursor.execute("ROLLBACK TO SAVEPOINT fk")
    assert Judgment.objects.count() == 2
