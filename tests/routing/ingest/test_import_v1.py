import json

import pytest
from django.core.management import CommandError, call_command

from hybridqc.flows.imports import batch_import
from reviewers.models import HumanLabel
from routing.batches.models import Batch, Example
from routing.ingest.import_v1 import ImportValidationError, parse_lines
from routing.judging.models import Judgment
from tests import factories


def _errors(lines):
    with pytest.raises(ImportValidationError) as info:
        parse_lines(lines)
    return [(e.line, e.field) for e in info.value.errors], [str(e) for e in info.value.errors]


def _one_bad(item_or_text, good_before=1):
    lines = factories.jsonl([factories.pairwise_item(i) for i in range(good_before)])
    lines.append(item_or_text if isinstance(item_or_text, str) else json.dumps(item_or_text))
    return _errors(lines)


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ("{not json", "(line)"),
        ("[1, 2]", "(line)"),
        ({k: v for k, v in factories.pairwise_item(9).items() if k != "prompt"}, "prompt"),
        ({k: v for k, v in factories.pairwise_item(9).items() if k != "id"}, "id"),
        (factories.pairwise_item(9, responses=["only one"]), "responses"),
        (factories.pairwise_item(9, responses=["a", 7]), "responses[1]"),
        (factories.pairwise_item(9, task="ranking"), "task"),
        (factories.pairwise_item(9, judgments=[{"judge": "g", "choice": 3}]), "judgments[0].choice"),
        (factories.pairwise_item(9, judgments=[{"judge": "g", "choice": "1"}]), "judgments[0].choice"),
        (factories.pairwise_item(9, judgments=[{"choice": 1}]), "judgments[0].judge"),
        (factories.pairwise_item(9, judgments=[{"judge": "g", "choice": 1, "order": "xy"}]), "judgments[0].order"),
        (factories.pairwise_item(9, judgments=[{"judge": "g", "choice": 1, "probability": 1.5}]),
         "judgments[0].probability"),
        (factories.pairwise_item(9, human_labels=[{"annotator": "a", "choice": None}]), "human_labels[0].choice"),
        (factories.pairwise_item(9, domain=5), "domain"),
        (factories.pairwise_item(9, metadata=[1]), "metadata"),
        (factories.pairwise_item(9, extra=1), "extra"),
        (factories.pairwise_item(9, prompt=""), "prompt"),
    ],
)
def test_parse_lines_names_the_bad_line_and_field(item, field):
    located, messages = _one_bad(item, good_before=2)
    assert located == [(3, field)]
    assert messages[0].startswith(f"line 3: {field}: ")


def test_parse_lines_rating_needs_one_response_and_a_scale():
    item = {"id": "r1", "task": "rating", "domain": "d", "prompt": "p", "responses": ["a", "b"]}
    located, _ = _errors([json.dumps(item)])
    assert located == [(1, "responses"), (1, "scale")]


def test_parse_lines_rejects_duplicate_ids():
    located, messages = _errors(factories.jsonl([factories.pairwise_item(1), factories.pairwise_item(1)]))
    assert located == [(2, "id")]
    assert messages == ["line 2: id: duplicate of line 1"]


def test_parse_lines_accepts_null_judge_choice():
    item = factories.pairwise_item(1, judgments=[{"judge": "g", "choice": None}])
    assert [n for n, _ in parse_lines([json.dumps(item)])] == [1]


def test_batch_import_with_one_bad_line_writes_nothing(db):
    lines = factories.jsonl([factories.pairwise_item(i) for i in range(3)]) + ["{broken"]
    with pytest.raises(ImportValidationError):
        batch_import(batch_name="bad", lines=lines)
    assert (Batch.objects.count(), Example.objects.count(), Judgment.objects.count()) == (0, 0, 0)


def test_batch_import_twice_creates_no_duplicates(db):
    first = factories.batch("twice")
    second = factories.batch("twice")
    assert (first.created, second.created, second.skipped) == (5, 0, 5)
    assert Example.objects.filter(batch__name="twice").count() == 5
    assert HumanLabel.objects.filter(source="import").count() == 5


def test_batch_import_stores_annotator_labels_and_judgments(db):
    result = factories.batch("store", items=[factories.pairwise_item(
        1, human_labels=[{"annotator": "a", "choice": 2}, {"annotator": "b", "choice": 0, "rationale": "close"}],
    )])
    labels = list(HumanLabel.objects.values_list("annotator", "choice", "rationale", "source"))
    assert labels == [("a", 2, "", "import"), ("b", 0, "close", "import")]
    assert Judgment.objects.filter(example__batch=result.batch).count() == 2
    assert result.batch.primary_judge == "judge-x"


def test_batch_import_real_pandalm_counts(db):
    result = batch_import(batch_name="p", lines=factories.data_lines("pandalm.jsonl"))
    assert (result.created, result.judgments, result.human_labels) == (999, 1998, 2997)
    assert Judgment.objects.filter(error="no usable verdict").count() == 25


def test_batch_import_real_llmbar_counts(db):
    result = batch_import(batch_name="l", lines=factories.data_lines("llmbar.jsonl"))
    assert (result.created, result.judgments, result.human_labels) == (619, 13370, 619)


def test_import_examples_command_reports_line_and_exits_nonzero(db, tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    good = factories.jsonl([factories.pairwise_item(i) for i in range(4)])
    good.insert(2, json.dumps(factories.pairwise_item(99, responses=["x"])))
    path.write_text("\n".join(good) + "\n")
    with pytest.raises(CommandError):
        call_command("import_examples", str(path), "--batch", "cmd")
    err = capsys.readouterr().err
    assert "bad.jsonl: line 3: responses: pairwise items need exactly 2, got 1" in err
    assert not Batch.objects.filter(name="cmd").exists()
