"""Format-v1 lines as JSON: parsing, and what no field may hold because PostgreSQL cannot store it.

Python's json accepts NaN, Infinity, 1e999 (which becomes inf) and integers too long to convert
to float; PostgreSQL refuses NUL characters and lone surrogates. The parse keeps bad numbers as
``BadNumber`` markers instead of failing outright, so the walk below can name the field they sit in.
The walk is iterative: a deeply nested value cannot exhaust Python's stack here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

# Past this many digits an integer no longer converts to float (comparisons with ratings fail).
MAX_INT_DIGITS = 300
_SHOWN_CHARS = 40
# orjson reads integers past 64 bits as floats: a whole float this large may have been written
# as such an integer, so its line takes the exact parse instead.
INT64 = 2.0**63
_NUL_ESCAPE = {bytes: b"\\u0000", str: "\\u0000"}

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class BadNumber:
    """A number the import refuses, as written in the file."""

    text: str


def _constant(text: str) -> BadNumber:
    return BadNumber(text)


def _float(text: str) -> float | BadNumber:
    value = float(text)
    return value if math.isfinite(value) else BadNumber(text)


def _int(text: str) -> int | BadNumber:
    return BadNumber(text) if len(text.lstrip("-")) > MAX_INT_DIGITS else int(text)


def line_parse(text: str) -> tuple[Any, str | None]:
    """The line's JSON value, or (None, why it is not JSON)."""
    try:
        return json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int), None
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc.msg} at column {exc.colno}"
    except RecursionError:
        # json.loads recurses once per level and gives up near a thousand.
        return None, "nesting too deep"


def doubtful(item: Any, max_depth: int) -> bool:
    """A container ``max_depth`` levels below one of the item's fields, or a huge whole float.

    orjson builds exact dicts, lists and floats, so ``type(...) is`` (cheaper than isinstance)
    tells them apart: this walk runs over every value of every line."""
    stack = [(item, 0)]
    while stack:
        node, depth = stack.pop()
        for child in node.values() if type(node) is dict else node:
            kind = type(child)
            if kind is dict or kind is list:
                if depth >= max_depth:
                    return True
                stack.append((child, depth + 1))
            elif kind is float and abs(child) >= INT64 and child.is_integer():
                return True
    return False


def quick_item(raw: str | bytes) -> dict[str, Any] | None:
    """orjson's reading of a line that is an object with no NUL escape, else None.

    orjson refuses NaN, Infinity, overflowing floats, lone surrogates and raw control characters,
    so what is left for the exact parse to read differently is huge integers and deep nesting:
    ``fast_item`` walks the value for those (import_plain's test bounds them itself)."""
    if _NUL_ESCAPE[type(raw)] in raw:  # type: ignore[operator]
        return None
    try:
        item = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return item if type(item) is dict else None


def fast_item(raw: str | bytes, max_depth: int) -> Any:
    """The line's value when it plainly holds nothing the exact parse reads differently, else None.

    Any doubt answers None, and the line takes ``line_parse`` and the full walk (which name the problem)."""
    item = quick_item(raw)
    if item is None or doubtful(item, max_depth):
        return None
    return item


def shown(value: Any) -> str:
    """A short, printable rendering of a value for an error message (never the raw input)."""
    if isinstance(value, BadNumber):
        text = value.text
    else:
        try:
            text = json.dumps(value)
        except (TypeError, ValueError, RecursionError):
            text = type(value).__name__
    return text if len(text) <= _SHOWN_CHARS else f"{text[:_SHOWN_CHARS]}… ({len(text)} characters)"


def key_label(key: str | int) -> str:
    if isinstance(key, int):
        return f"[{key}]"
    plain = key.isprintable() and key.isascii() and 0 < len(key) <= _SHOWN_CHARS and "." not in key
    return f".{key}" if plain else f".{shown(key)}"


def field_label(key: str) -> str:
    """A field name as shown in an error (escaped unless plain)."""
    return key_label(key)[1:]


def path_label(field: str, path: Path) -> str:
    """``judgments`` and (0, "probability") give ``judgments[0].probability``."""
    return field + "".join(key_label(k) for k in path)


def _children(value: Any) -> Iterator[tuple[str | int, Any]]:
    if isinstance(value, dict):
        return iter(value.items())
    if isinstance(value, list):
        return enumerate(value)
    return iter(())


def json_nodes(value: Any) -> Iterator[tuple[Path, int, Any]]:
    """(path, depth, node) for ``value`` and everything inside it, depth-first.

    Children are taken lazily, so a caller that stops at the first problem does no more work."""
    yield (), 0, value
    stack: list[tuple[Path, Iterator[tuple[str | int, Any]]]] = [((), _children(value))]
    while stack:
        path, children = stack[-1]
        step = next(children, None)
        if step is None:
            stack.pop()
            continue
        child_path = (*path, step[0])
        yield child_path, len(stack), step[1]
        if isinstance(step[1], dict | list):
            stack.append((child_path, _children(step[1])))


def text_problem(value: str) -> str | None:
    """NUL and lone surrogates: PostgreSQL refuses both, in text columns and in jsonb."""
    if "\x00" in value:
        return "must not contain NUL characters"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must not contain lone surrogates (invalid Unicode)"
    return None


def _number_problem(node: Any) -> str | None:
    if isinstance(node, BadNumber):
        return f"invalid number {shown(node)}"
    if isinstance(node, float) and not math.isfinite(node):
        return f"invalid number {node}"
    return None


def _depth_problem(depth: int, node: Any, max_depth: int) -> str | None:
    if isinstance(node, dict | list) and depth >= max_depth:
        return f"nested more than {max_depth} levels deep"
    return None


def _node_problem(path: Path, depth: int, node: Any, max_depth: int) -> str | None:
    key = path[-1] if path else None
    if isinstance(key, str) and (problem := text_problem(key)):
        return f"key {problem}"
    if isinstance(node, str):
        return text_problem(node)
    return _number_problem(node) or _depth_problem(depth, node, max_depth)


def storable_problem(value: Any, *, max_depth: int) -> tuple[Path, str] | None:
    """The first place in ``value`` that could not be stored (or is nested too deep), if any."""
    for path, depth, node in json_nodes(value):
        if problem := _node_problem(path, depth, node, max_depth):
            return path, problem
    return None
