"""A JSON parser for the APIs that refuses what the rest of the stack cannot carry."""

from __future__ import annotations

import re
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

SURROGATE = re.compile("[\ud800-\udfff]")
NOT_STORABLE = "JSON parse error - text with an unpaired surrogate (\\ud800-\\udfff) or a NUL character"


def _has_bad_text(data: Any) -> bool:
    """Walked without recursion: the payload's depth is the client's choice."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if "\x00" in node or SURROGATE.search(node):
                return True
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


class StrictJSONParser(JSONParser):
    """DRF's JSON parser, but nesting too deep for the decoder is a 400 (not a RecursionError and a
    500), and text UTF-8 or PostgreSQL cannot hold (lone surrogates, NUL) is refused before any
    field echoes it back in an error message the renderer cannot encode."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None
        if _has_bad_text(data):
            raise ParseError(NOT_STORABLE)
        return data
