"""A one-pass test that a parsed format-v1 line is plainly valid, for the import's hot path.

``plain_check(limits)`` builds the test once per file, with the bounds bound as constants. It
takes orjson's reading of a line (``import_json.quick_item``) and answers True only for lines
that the exact parse reads the same way and ``validate_item(item, limits)`` accepts; it answers
False for anything unusual (a float choice, a nested metadata value, a bad field, a whole float
of 2**63 or more, which orjson may have read from a longer integer...): those lines take the
exact parse and ``validate_item``, which names every problem. So the test may refuse good lines
(they then cost the full rules) but never passes a bad one; tests/routing/ingest checks both
against the same mutated lines.

Types are compared with ``type(...) is``: orjson builds exact dicts, lists, strs, ints and floats,
and a bool (a subclass of int) is thereby never taken for a number.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from routing.ingest.import_json import INT64
from routing.ingest.import_rules import FIELDS, INT_COLUMN, JUDGMENT_FIELDS, LABEL_FIELDS, MAX_SCORES, Limits

_CHOICES = (0, 1, 2)
_ORDERS = ("ab", "ba")
_NUMBERS = (int, float)
# The deepest container of a line this test passes, counted as import_json.doubtful counts
# (an item's own fields at 0: judgments 0, a judgment 1, its scores 2).
PLAIN_DEPTH = 2


def _text_check(max_chars: int) -> Callable[[Any], bool]:
    def required(value: Any) -> bool:
        return type(value) is str and len(value) <= max_chars and bool(value.strip())

    return required


def _optional_check(max_chars: int) -> Callable[[dict[str, Any], str], bool]:
    def optional(obj: dict[str, Any], key: str) -> bool:
        if key not in obj:
            return True
        value = obj[key]
        return type(value) is str and len(value) <= max_chars

    return optional


def _scores_plain(value: Any) -> bool:
    if value is None:
        return True
    if type(value) is not list or len(value) > MAX_SCORES:
        return False
    # Finite (NaN compares false), and not a whole float that may have been a longer integer.
    return all(type(s) in _NUMBERS and -INT64 < s < INT64 for s in value)


def _probability_plain(value: Any) -> bool:
    return value is None or (type(value) in _NUMBERS and 0.0 <= value <= 1.0)


def _verdict_plain(obj: dict[str, Any], scale: tuple[int, int] | None, *, allow_null: bool) -> bool:
    """Pairwise when ``scale`` is None: an int choice, no rating; else a rating in the scale, no choice."""
    if scale is None:
        if "choice" not in obj or obj.get("rating") is not None:
            return False
        value = obj["choice"]
        return (value is None and allow_null) or (type(value) is int and value in _CHOICES)
    if "rating" not in obj or obj.get("choice") is not None:
        return False
    value = obj["rating"]
    return (value is None and allow_null) or (type(value) in _NUMBERS and scale[0] <= value <= scale[1])


def _judgments_check(limits: Limits) -> Callable[[Any, tuple[int, int] | None], bool]:
    """All of an item's judgments, in one loop: a function call per field would cost more than
    the checks themselves (a file has ten judgments a line)."""
    judge_chars, variant_chars, text_chars, most = (limits.judge_chars, limits.variant_chars, limits.text_chars,
                                                   limits.judgments)

    def judgments_plain(judgments: Any, scale: tuple[int, int] | None) -> bool:
        if type(judgments) is not list or len(judgments) > most:
            return False
        for j in judgments:
            if type(j) is not dict or not j.keys() <= JUDGMENT_FIELDS:
                return False
            get = j.get
            judge, variant, rationale = get("judge"), get("variant", ""), get("rationale", "")
            if type(judge) is not str or len(judge) > judge_chars or not judge.strip():
                return False
            if type(variant) is not str or len(variant) > variant_chars:
                return False
            if type(rationale) is not str or len(rationale) > text_chars or get("order", "ab") not in _ORDERS:
                return False
            if not (_probability_plain(get("probability")) and _scores_plain(get("scores"))
                    and _verdict_plain(j, scale, allow_null=True)):
                return False
        return True

    return judgments_plain


def _labels_check(limits: Limits) -> Callable[[Any, tuple[int, int] | None], bool]:
    annotator_ok, rationale_ok, most = _text_check(limits.annotator_chars), _optional_check(limits.text_chars), \
        limits.labels

    def label_plain(h: Any, scale: tuple[int, int] | None) -> bool:
        return (type(h) is dict and h.keys() <= LABEL_FIELDS and annotator_ok(h.get("annotator"))
                and _verdict_plain(h, scale, allow_null=False) and rationale_ok(h, "rationale"))

    def labels_plain(labels: Any, scale: tuple[int, int] | None) -> bool:
        return type(labels) is list and len(labels) <= most and all(label_plain(h, scale) for h in labels)

    return labels_plain


def _metadata_check(limits: Limits) -> Callable[[dict[str, Any]], bool]:
    max_values, max_chars = limits.metadata_values, limits.text_chars

    def metadata_plain(item: dict[str, Any]) -> bool:
        """Absent, or a flat object of scalars within both bounds (nested ones take the full rules)."""
        if "metadata" not in item:
            return True
        metadata = item["metadata"]
        if type(metadata) is not dict or len(metadata) > max_values:
            return False
        chars = 0
        for key, value in metadata.items():
            kind = type(value)
            if kind is dict or kind is list or (kind is float and not -INT64 < value < INT64):
                return False
            chars += len(key) + (len(value) if kind is str else 0)
        return chars <= max_chars

    return metadata_plain


def _scale_check(limits: Limits) -> Callable[[dict[str, Any]], tuple[bool, tuple[int, int] | None]]:
    steps = limits.scale_steps

    def scale_plain(item: dict[str, Any]) -> tuple[bool, tuple[int, int] | None]:
        """(plainly valid, the rating scale or None for pairwise)."""
        scale = item.get("scale")
        if item["task"] == "pairwise":
            return scale is None, None
        if type(scale) is not dict:
            return False, None
        lo, hi = scale.get("min"), scale.get("max")
        if type(lo) is not int or type(hi) is not int:
            return False, None
        ok = -INT_COLUMN <= lo < hi <= INT_COLUMN and hi - lo + 1 <= steps
        return ok, (lo, hi)

    return scale_plain


def _responses_plain(responses: Any, want: int, max_chars: int) -> bool:
    return (type(responses) is list and len(responses) == want
            and all(type(r) is str and len(r) <= max_chars for r in responses))


def plain_check(limits: Limits) -> Callable[[Any], bool]:
    """The test for one parsed line (see the module's docstring), with ``limits`` built in."""
    id_ok, prompt_ok = _text_check(limits.id_chars), _text_check(limits.text_chars)
    domain_chars, domain_segments, text_chars = limits.domain_chars, limits.domain_segments, limits.text_chars
    metadata_plain, scale_plain = _metadata_check(limits), _scale_check(limits)
    judgments_plain, labels_plain = _judgments_check(limits), _labels_check(limits)
    shallow = limits.depth > PLAIN_DEPTH

    def plain(item: Any) -> bool:
        if not shallow or type(item) is not dict or not item.keys() <= FIELDS:
            return False
        task, domain = item.get("task"), item.get("domain")
        if task not in ("pairwise", "rating") or type(task) is not str:
            return False
        if not (id_ok(item.get("id")) and prompt_ok(item.get("prompt")) and type(domain) is str
                and len(domain) <= domain_chars and domain.strip()
                and domain.strip().strip("/").count("/") < domain_segments):
            return False
        if not _responses_plain(item.get("responses"), 2 if task == "pairwise" else 1, text_chars):
            return False
        scale_ok, scale = scale_plain(item)
        return (scale_ok and metadata_plain(item) and judgments_plain(item.get("judgments", []), scale)
                and labels_plain(item.get("human_labels", []), scale))

    return plain
