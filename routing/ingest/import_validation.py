"""Format-v1 validation, the one entry point for the command, the upload form and the API.

``validated_items`` streams a file's good items and fails after its last line if any was bad
(the writer rolls back); the size rules bound an upload before it is read at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from routing.ingest.import_json import doubtful, line_parse, quick_item
from routing.ingest.import_plain import plain_check
from routing.ingest.import_rules import Limits, Problems, current_limits, validate_item

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


@dataclass(frozen=True)
class _Rules:
    limits: Limits
    plain: Callable[[Any], bool]


def _line_errors(number: int, text: str | bytes, rules: _Rules, seen: dict[str, int]) -> tuple[Any, list[LineError]]:
    """The parsed item with no errors, or None and what is wrong with line ``number``."""
    limits = rules.limits
    item: Any = quick_item(text)
    problems: Problems | None
    if item is not None and rules.plain(item):
        problems = []
    else:
        if item is not None and doubtful(item, limits.depth):
            item = None
        problems = validate_item(item, limits, storable=True) if item is not None else None
    if problems is None or problems:
        # The slow, exact parse names every problem as the file wrote it.
        item, syntax = line_parse(_decoded(text))
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


def _is_blank(raw: str | bytes) -> bool:
    return not raw.strip()


def validated_items(lines: Iterable[str | bytes]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, item) for each good line as it is read, in bounded memory (only the
    ids seen so far are kept, to refuse duplicates). After the last line, raise
    ImportValidationError listing every bad line: a caller writing as it goes must roll back."""
    limits = current_limits()
    rules = _Rules(limits, plain_check(limits))
    errors: list[LineError] = []
    seen: dict[str, int] = {}
    size = 0
    for number, raw in enumerate(lines, start=1):
        # Bytes for files and uploads (text lines, as in tests, count characters).
        size += len(raw)
        if size > settings.IMPORT_MAX_UPLOAD_BYTES:
            raise ImportValidationError([*errors, _too_large_at(number)])
        if _is_blank(raw):
            continue
        item, line_errors = _line_errors(number, raw, rules, seen)
        errors += line_errors
        if item is not None and not errors:
            yield number, item
        if len(errors) > MAX_ERRORS:
            errors.append(LineError(number, "(file)", f"more than {MAX_ERRORS} problems; stopped reading here"))
            break
    if errors:
        raise ImportValidationError(errors)
    if not seen:
        raise ImportValidationError([LineError(0, "(file)", "contains no items")])


def parse_lines(lines: Iterable[str | bytes]) -> list[tuple[int, dict[str, Any]]]:
    """Parse and validate every line; raise ImportValidationError listing all bad lines."""
    return list(validated_items(lines))
