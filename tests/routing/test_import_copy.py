"""The COPY import on PostgreSQL: the rows it stores, idempotency, and the streaming read."""

import json

import pytest
from django.db import connection

from reviewers.models import HumanLabel
from routing.models import Batch, Domain, Example, Judgment
from routing.services.import_json import fast_item
from routing.services.import_v1 import ImportValidationError, _orm_import, batch_import
from routing.services.import_validation import parse_lines, validated_items
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
