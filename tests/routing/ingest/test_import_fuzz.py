"""Seeded random malformed lines: every one is refused with a validation error, never another exception.

Each mutation below makes a valid line invalid whatever else it holds, so the generator needs no
oracle: anything but ImportValidationError (or a line accepted) is a bug in the validator.
"""

import json
import random

from routing.ingest.import_v1 import ImportValidationError, LineError, parse_lines
from tests import factories

RAW_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "9" * 500]
BAD_TEXT = ["", "   ", "a\x00b", "\ud800", "x\udfffy", None, 7, 1.5, True, [], {}]
BAD_VERDICT_VALUES = [3, -1, "1", True, [1], {"x": 1}, 1.5]


def _placeholder(rng, raw):
    """A string json.dumps writes as is; _line swaps it for JSON that json.dumps cannot produce."""
    key = f"@RAW{rng.randrange(10**9)}@"
    raw[f'"{key}"'] = rng.choice(RAW_NUMBERS) if rng.random() < 0.7 else _deep_text(rng)
    return key


def _deep_text(rng):
    levels = rng.choice([21, 50, 999, 3000, 20000])
    return "[" * levels + "1" + "]" * levels


def _nested(levels):
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


def _bad_text_field(item, rng, raw):
    key = rng.choice(["id", "domain", "prompt"])
    item[key] = rng.choice([*BAD_TEXT, "x" * 200_001 if key == "prompt" else "x" * 201, _placeholder(rng, raw)])


def _bad_task(item, rng, raw):
    item["task"] = rng.choice(["ranking", None, 1, "Pairwise", _placeholder(rng, raw)])


def _missing_field(item, rng, raw):
    del item[rng.choice(["id", "task", "domain", "prompt", "responses"])]


def _unknown_field(item, rng, raw):
    item[rng.choice(["extra", "\x00", "\ud800", "x" * 500, "Judgments"])] = 1


def _bad_responses(item, rng, raw):
    want = 2 if item["task"] == "pairwise" else 1
    choices = [[], ["r"] * (want + 1), "r", None, [None] * want, ["\x00"] * want, [_placeholder(rng, raw)] * want]
    item["responses"] = rng.choice(choices)


def _bad_judgment(item, rng, raw):
    pairwise = item["task"] == "pairwise"
    judgment = {"judge": "g", "choice": 1} if pairwise else {"judge": "g", "rating": 5}
    problem = rng.choice(["judge", "verdict", "other", "probability", "scores", "order", "text", "missing"])
    if problem == "judge":
        judgment["judge"] = rng.choice([*BAD_TEXT, "j" * 201])
    elif problem == "verdict":
        judgment["choice" if pairwise else "rating"] = rng.choice(
            BAD_VERDICT_VALUES if pairwise else ["5", [5], 0, 11, 1e300, _placeholder(rng, raw)])
    elif problem == "other":
        judgment["rating" if pairwise else "choice"] = rng.choice([1, 2, 0, 3.5])
    elif problem == "probability":
        judgment["probability"] = rng.choice([-0.1, 1.5, "0.5", _placeholder(rng, raw)])
    elif problem == "scores":
        judgment["scores"] = rng.choice(["1,2", [1, "2"], [0.5] * 17, [_placeholder(rng, raw)]])
    elif problem == "order":
        judgment["order"] = rng.choice(["xy", None, 1])
    elif problem == "text":
        judgment[rng.choice(["variant", "rationale"])] = rng.choice(["\x00", "\ud800", 5, "v" * 200_001])
    else:
        del judgment["choice" if pairwise else "rating"]
    item["judgments"] = [*item.get("judgments", []), judgment]


def _bad_label(item, rng, raw):
    pairwise = item["task"] == "pairwise"
    label = {"annotator": rng.choice([*BAD_TEXT, "a" * 201])} if rng.random() < 0.4 else {"annotator": "a"}
    label["choice" if pairwise else "rating"] = rng.choice([None, *BAD_VERDICT_VALUES] if pairwise else [None, 0, 11])
    item["human_labels"] = [label]


def _bad_scale(item, rng, raw):
    if item["task"] == "pairwise":
        item["scale"] = rng.choice(["1-5", {"min": 1, "max": 5}, {"min": 0, "max": 2**40}, [], 0])
        return
    item["scale"] = rng.choice([None, "1-5", {"min": 5, "max": 1}, {"min": 3, "max": 3}, {"min": 1.5, "max": 5},
                                {"min": True, "max": 5}, {"min": 0, "max": 2_000_000_000},
                                {"min": -(2**40), "max": 10}, {"min": 1, "max": _placeholder(rng, raw)}])


def _bad_metadata(item, rng, raw):
    item["metadata"] = rng.choice([
        [1], "m", 5, _nested(rng.randint(21, 400)), {"k\x00": 1}, {"\ud800": 1}, {"v": "\x00"},
        {"v": list(range(10_001))}, {"v": "x" * 200_001}, {"v": _placeholder(rng, raw)}, _placeholder(rng, raw),
    ])


def _too_many(item, rng, raw):
    key = rng.choice(["judgments", "human_labels"])
    verdict = {"choice": 1} if item["task"] == "pairwise" else {"rating": 5}
    entry = {"judge": "g", **verdict} if key == "judgments" else {"annotator": "a", **verdict}
    item[key] = [entry] * 1001


MUTATIONS = [_bad_text_field, _bad_task, _missing_field, _unknown_field, _bad_responses, _bad_judgment,
             _bad_label, _bad_scale, _bad_metadata, _too_many]


def _line(rng):
    """A malformed line: a valid item with one to three mutations, or a truncated valid line."""
    build = factories.pairwise_item if rng.random() < 0.6 else factories.rating_item
    item, raw = build(rng.randrange(10**6)), {}
    if rng.random() < 0.1:
        text = json.dumps(item)
        return text[: rng.randrange(1, len(text))]
    for mutation in rng.sample(MUTATIONS, rng.randint(1, 3)):
        if "task" in item and item["task"] in ("pairwise", "rating"):
            mutation(item, rng, raw)
    text = json.dumps(item)
    for key, value in raw.items():
        text = text.replace(key, value)
    return text


def _outcome(line):
    try:
        parse_lines([line])
    except ImportValidationError as exc:
        ok = exc.errors and all(isinstance(e, LineError) and e.line == 1 and e.message for e in exc.errors)
        return "refused" if ok else f"refused without a line-1 error: {exc.errors}"
    except Exception as exc:  # noqa: BLE001 - any other exception is what this test looks for
        return f"{type(exc).__name__}: {exc}"
    return "accepted"


def test_parse_lines_refuses_2000_random_malformed_lines_cleanly():
    rng = random.Random(20240611)
    lines = [_line(rng) for _ in range(2000)]
    failures = [(i, line[:200], outcome) for i, line in enumerate(lines) if (outcome := _outcome(line)) != "refused"]
    assert failures == []
