"""Hypothesis strategies for malformed format-v1 lines and API payloads."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from tests import factories

SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30))
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=10)
ITEM_KEYS = ["id", "task", "domain", "prompt", "responses", "scale", "judgments", "human_labels", "metadata",
             "gold", "extra"]
VERDICT_KEYS = ["judge", "variant", "order", "choice", "rating", "probability", "scores", "rationale", "sample",
                "annotator"]
EDGE_TEXT = st.sampled_from(["", " ", "a\x00b", "\ud800", "x" * 201, "x" * 200_001, "=cmd|' /C calc'!A0",
                             "<script>window.__xss=1</script>", "../../etc/passwd", "a/" * 20])


@st.composite
def item_mutated(draw: st.DrawFn) -> dict[str, Any]:
    """A valid item with one to four fields replaced, removed or pushed into a verdict."""
    base = draw(st.sampled_from(["pairwise", "rating"]))
    i = draw(st.integers(min_value=0, max_value=50))
    item = factories.pairwise_item(i) if base == "pairwise" else factories.rating_item(i)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        where = draw(st.sampled_from(["item", "item", "drop", "judgment", "label"]))
        value = draw(JSON_VALUES | EDGE_TEXT)
        if where == "item":
            item[draw(st.sampled_from(ITEM_KEYS))] = value
        elif where == "drop":
            item.pop(draw(st.sampled_from(ITEM_KEYS)), None)
        else:
            rows = item.get("judgments" if where == "judgment" else "human_labels")
            if isinstance(rows, list) and rows and isinstance(rows[0], dict):
                rows[0][draw(st.sampled_from(VERDICT_KEYS))] = value
    return item


def _dumped(item: Any) -> str:
    return json.dumps(item, allow_nan=True)


LINES = st.one_of(
    item_mutated().map(_dumped),
    JSON_VALUES.map(_dumped),
    st.text(max_size=200),
    st.binary(max_size=200),
    st.sampled_from(["[" * 5000 + "]" * 5000, '{"id": 1e999}', "NaN", '{"a": Infinity}', "{" * 30]),
)
FILES = st.lists(LINES, min_size=1, max_size=8)
LABEL_PAYLOADS = st.dictionaries(
    st.sampled_from(["choice", "rating", "rationale", "flags", "seconds_spent", "criteria", "task", "x"]),
    JSON_VALUES | EDGE_TEXT, max_size=5)
