"""Format-v1 validation, the one entry point for the command, the upload form and the API.

``parse_lines`` checks a whole file before anything is written; the size rules bound an upload
before it is read at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from .import_json import line_parse
from .import_rules import Limits, current_limits, validate_item

# Room for the form fields and multipart framing around the file in an upload request.
REQUEST_OVERHEAD_BYTES = 1024 * 1024
# Past this many problems the rest of the file is not read: the list is long enough to act on,
# and a file of millions of bad lines must not fill a worker's memory with errors.
MAX_ERRORS = 1000
# Django refuses fields (not files) past DATA_UPLOAD_MAX_MEMORY_SIZE; the answer says which part.
FIELDS_TOO_LARGE = "the fields besides the file are too large (DATA_UPLOAD_MAX_MEMORY_SIZE); send the data as the file"


@dataclass(frozen=True)
class LineError:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


class ImportValidationError(Exception):
    def __init__(self, errors: list[LineError]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} invalid line(s); nothing was imported")


def _size(n: int) -> str:
    return f"{n} bytes" if n < 1024 * 1024 else f"{n / (1024 * 1024):.1f} MB"


def upload_size_problem(size: int | None) -> str | None:
    """Why a file of ``size`` bytes cannot be imported (None when it can, or the size is unknown)."""
    limit = settings.IMPORT_MAX_UPLOAD_BYTES
    if size is not None and size > limit:
        return f"the file is {_size(size)}; at most {_size(limit)} can be imported"
    return None


def request_size_problem(content_length: str | None) -> str | None:
    """Why an upload request is refused before its body is read (by its Content-Length header)."""
    try:
        length = int(content_length or 0)
    except ValueError:
        return None  # Django answers a malformed header itself.
    limit = settings.IMPORT_MAX_UPLOAD_BYTES
    if length > limit + REQUEST_OVERHEAD_BYTES:
        return f"the upload is {_size(length)}; at most {_size(limit)} can be imported"
    return None


def _too_large_at(number: int) -> LineError:
    limit = _size(settings.IMPORT_MAX_UPLOAD_BYTES)
    return LineError(number, "(file)", f"is larger than {limit}, the most that can be imported; stopped reading here")


def _line_errors(number: int, text: str, limits: Limits, seen: dict[str, int]) -> tuple[Any, list[LineError]]:
    """The parsed item with no errors, or None and what is wrong with line ``number``."""
    item, syntax = line_parse(text)
    if syntax:
        return None, [LineError(number, "(line)", syntax)]
    problems = validate_item(item, limits)
    if problems:
        return None, [LineError(number, f, m) for f, m in problems]
    if item["id"] in seen:
        return None, [LineError(number, "id", f"duplicate of line {seen[item['id']]}")]
    seen[item["id"]] = number
    return item, []


def _decoded(raw: str | bytes) -> str:
    return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw


def parse_lines(lines: Iterable[str | bytes]) -> list[tuple[int, dict[str, Any]]]:
    """Parse and validate every line; raise ImportValidationError listing all bad lines."""
    limits = current_limits()
    items: list[tuple[int, dict[str, Any]]] = []
    errors: list[LineError] = []
    seen: dict[str, int] = {}
    size = 0
    for number, raw in enumerate(lines, start=1):
        # Bytes for files and uploads (text lines, as in tests, count characters).
        size += len(raw)
        if size > settings.IMPORT_MAX_UPLOAD_BYTES:
            raise ImportValidationError([*errors, _too_large_at(number)])
        text = _decoded(raw)
        if not text.strip():
            continue
        item, line_errors = _line_errors(number, text, limits, seen)
        errors += line_errors
        if item is not None:
            items.append((number, item))
        if len(errors) > MAX_ERRORS:
            errors.append(LineError(number, "(file)", f"more than {MAX_ERRORS} problems; stopped reading here"))
            break
    if errors:
        raise ImportValidationError(errors)
    if not items:
        raise ImportValidationError([LineError(0, "(file)", "contains no items")])
    return items
