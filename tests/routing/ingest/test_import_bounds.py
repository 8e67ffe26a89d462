"""Bounds of format v1: every bad line is refused with its line and field, and nothing is written."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from reviewers.models import HumanLabel
from routing.batches.models import Example
from routing.ingest.import_v1 import parse_lines
from routing.judging.models import Judgment
from tests import factories

RAW = {"NAN": "NaN", "INF": "Infinity", "NEG_INF": "-Infinity", "OVERFLOW": "1e999", "LONG_INT": "9" * 400,
       "DEEP": '{"a":' * 5000 + "1" + "}" * 5000}


def _raw(item):
    """The item as a line, with "@NAME@" placeholders replaced by JSON that json.dumps cannot write."""
    text = json.dumps(item)
    for name, raw in RAW.items():
        text = text.replace(f'"@{name}@"', raw)
    return text


def _nested(levels):
    value: dict = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def _rating(**over):
    return factories.rating_item(9, **over)


def _pairwise(**over):
    return factories.pairwise_item(9, **over)


def _judged(build, **judgment):
    return build(judgments=[{"judge": "judge-x", **judgment}])


CASES = {
    "rating judgment with a choice": (
        _judged(_rating, choice=1, rating=None),
        ["judgments[0].choice: must not be given for rating items (use rating)"]),
    "pairwise judgment with a rating": (
        _judged(_pairwise, choice=None, rating=3),
        ["judgments[0].rating: must not be given for pairwise items (use choice)"]),
    "rating label with a choice": (
        _rating(human_labels=[{"annotator": "a", "choice": 1}]),
        ["human_labels[0].rating: is required for rating items",
         "human_labels[0].choice: must not be given for rating items (use rating)"]),
    "rating label without verdict": (
        _rating(human_labels=[{"annotator": "a", "rating": None}]),
        ["human_labels[0].rating: must be a number, got null"]),
    "rating outside the scale": (
        _judged(_rating, rating=11), ["judgments[0].rating: must be within the scale 1..10, got 11"]),
    "huge scale": (
        _rating(scale={"min": 0, "max": 2_000_000_000}), ["scale: has 2000000001 values; at most 100 are allowed"]),
    "scale of floats": (_rating(scale={"min": 1.5, "max": 5}), ["scale: min and max must be integers"]),
    "empty scale": (_rating(scale={"min": 5, "max": 5}), ["scale: min (5) must be below max (5)"]),
    "scale past the column": (
        _rating(scale={"min": 2**31, "max": 2**31 + 5}),
        ["scale: min and max must be between -2147483647 and 2147483647"]),
    "scale on a pairwise item": (
        _pairwise(scale={"min": 0, "max": 2**40}), ["scale: only rating items have a scale"]),
    "NUL in prompt": (_pairwise(prompt="a\x00b"), ["prompt: must not contain NUL characters"]),
    "lone surrogate in a response": (
        _pairwise(responses=["ok", "\ud800"]), ["responses[1]: must not contain lone surrogates (invalid Unicode)"]),
    "NUL in a rationale": (
        _judged(_pairwise, choice=1, rationale="\x00"), ["judgments[0].rationale: must not contain NUL characters"]),
    "NUL in a metadata key": (
        _pairwise(metadata={"k\x00": 1}), ['metadata."k\\u0000": key must not contain NUL characters']),
    "long id": (_pairwise(id="x" * 201), ["id: is 201 characters long; at most 200 are allowed"]),
    "long judge": (
        _judged(_pairwise, judge="j" * 201, choice=1),
        ["judgments[0].judge: is 201 characters long; at most 200 are allowed"]),
    "long variant": (
        _judged(_pairwise, choice=1, variant="v" * 101),
        ["judgments[0].variant: is 101 characters long; at most 100 are allowed"]),
    "long annotator": (
        _pairwise(human_labels=[{"annotator": "a" * 201, "choice": 1}]),
        ["human_labels[0].annotator: is 201 characters long; at most 200 are allowed"]),
    "long prompt": (
        _pairwise(prompt="p" * 200_001), ["prompt: is 200001 characters long; at most 200000 are allowed"]),
    "long domain": (_pairwise(domain="d" * 201), ["domain: is 201 characters long; at most 200 are allowed"]),
    "deep domain": (_pairwise(domain="/".join("abcdefghi")), ["domain: has 9 segments; at most 8 are allowed"]),
    "NaN probability": (
        _judged(_pairwise, choice=1, probability="@NAN@"), ["judgments[0].probability: invalid number NaN"]),
    "Infinity in scores": (
        _judged(_pairwise, choice=1, scores=[1.0, "@INF@"]), ["judgments[0].scores[1]: invalid number Infinity"]),
    "-Infinity rating": (_judged(_rating, rating="@NEG_INF@"), ["judgments[0].rating: invalid number -Infinity"]),
    "overflowing rating": (_judged(_rating, rating="@OVERFLOW@"), ["judgments[0].rating: invalid number 1e999"]),
    "400-digit rating": (
        _judged(_rating, rating="@LONG_INT@"),
        [f"judgments[0].rating: invalid number {'9' * 40}… (400 characters)"]),
    "NaN in metadata": (_pairwise(metadata={"x": "@NAN@"}), ["metadata.x: invalid number NaN"]),
    "metadata 21 levels deep": (
        _pairwise(metadata=_nested(21)), ["metadata" + ".a" * 20 + ": nested more than 20 levels deep"]),
    "metadata 5000 levels deep": (_pairwise(metadata="@DEEP@"), ["(line): nesting too deep"]),
    "metadata with too many values": (
        _pairwise(metadata={"v": list(range(10_000))}), ["metadata: has more than 10000 values"]),
    "metadata with too much text": (
        _pairwise(metadata={"note": "x" * 200_001}),
        ["metadata: holds 200005 characters of text; at most 200000 are allowed"]),
    "too many judgments": (
        _pairwise(judgments=[{"judge": "g", "choice": 1}] * 1001),
        ["judgments: has 1001 entries; at most 1000 are allowed"]),
    "too many labels": (
        _pairwise(human_labels=[{"annotator": "a", "choice": 1}] * 1001),
        ["human_labels: has 1001 entries; at most 1000 are allowed"]),
}


def _file_lines(bad):
    """Three good lines, then the bad one (line 4)."""
    return factories.jsonl([factories.pairwise_item(i) for i in range(3)]) + [_raw(bad)]


def _rows():
    return Example.objects.count(), Judgment.objects.count(), HumanLabel.objects.count()


@pytest.mark.parametrize(("bad", "expected"), CASES.values(), ids=CASES.keys())
def test_import_command_bad_fourth_line_exits_1_and_writes_nothing(db, tmp_path, capsys, bad, expected):
    factories.batch("existing")
    before = _rows()
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(_file_lines(bad)) + "\n")
    with pytest.raises(CommandError) as info:
        call_command("import_examples", str(path), "--batch", "cmd", "--no-pipeline")
    assert info.value.returncode == 1
    assert capsys.readouterr().err.splitlines() == [f"bad.jsonl: line 4: {e}" for e in expected]
    assert _rows() == before


@pytest.mark.parametrize(("bad", "expected"), CASES.values(), ids=CASES.keys())
def test_import_api_bad_fourth_line_is_400_and_writes_nothing(client, lead_user, bad, expected):
    factories.batch("existing")
    before = _rows()
    client.login(username=lead_user.username, password=factories.PASSWORD)
    data = ("\n".join(_file_lines(bad)) + "\n").encode()
    response = client.post("/api/control/batches/", {"name": "api", "file": SimpleUploadedFile("a.jsonl", data)})
    assert response.status_code == 400
    assert [f"line {e['line']}: {e['field']}: {e['message']}" for e in response.json()["errors"]] == [
        f"line 4: {e}" for e in expected]
    assert _rows() == before


@pytest.mark.parametrize(
    "item",
    [
        factories.rating_item(1, scale={"min": 1, "max": 100}, judgments=[{"judge": "g", "rating": 100}]),
        factories.rating_item(1, judgments=[{"judge": "g", "rating": None}]),
        factories.rating_item(1, judgments=[{"judge": "g", "rating": 7.5, "choice": None}]),
        factories.pairwise_item(1, judgments=[{"judge": "g", "choice": 1, "rating": None}]),
        factories.pairwise_item(1, id="x" * 200, metadata=_nested(20)),
        factories.pairwise_item(1, domain="/".join("abcdefgh"), metadata={"v": list(range(9_999))}),
    ],
    ids=["100-value scale", "null rating", "null choice on rating", "null rating on pairwise", "at the limits",
         "8 segments"],
)
def test_parse_lines_accepts_values_at_the_bounds(item):
    assert [n for n, _ in parse_lines([json.dumps(item)])] == [1]


def test_batch_import_stores_values_at_the_bounds(db):
    domain = "/".join(["d" * 25] + ["d" * 24] * 7)
    item = factories.rating_item(
        1, id="i" * 200, domain=domain, prompt="p" * 200_000, scale={"min": -49, "max": 50},
        judgments=[{"judge": "j" * 200, "variant": "v" * 100, "rating": 50, "probability": 1.0, "scores": [0.5] * 16}],
        human_labels=[{"annotator": "a" * 200, "rating": -49, "rationale": "r" * 200_000}],
        metadata={"deep": _nested(19), "v": list(range(9_000))},
    )
    result = factories.batch("bounds", items=[item])
    assert (len(domain), result.created, result.judgments, result.human_labels) == (200, 1, 1, 1)
    assert Example.objects.get().metadata["deep"] == _nested(19)
