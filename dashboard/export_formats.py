"""Writers for the lineage export: JSONL, CSV (safe to open in a spreadsheet), Parquet and
preference pairs. Each streams the file as byte chunks while it reads the rows, so memory holds
one chunk, never the file; what a writer left out is counted as it goes (and, before the first
byte, by ``dashboard.export_left_out`` with the same rule)."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .export import LineageExport
from .export_left_out import preference_left_out

FORMATS = ("jsonl", "csv", "parquet", "preference")
CONTENT_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv", "parquet": "application/vnd.apache.parquet",
                 "preference": "application/x-ndjson"}
EXTENSIONS = {"jsonl": "jsonl", "csv": "csv", "parquet": "parquet", "preference": "preference.jsonl"}
# A spreadsheet runs a cell starting with one of these as a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Rows per chunk written (and per Parquet record batch).
ROWS_PER_CHUNK = 1000

# The Parquet columns, fixed so that every record batch has the same schema whatever its first
# rows hold (a chunk of pairwise rows has no scale, a later rating row does). Nested values with
# varying keys (the certification) go in as JSON text.
PARQUET_SCHEMA = pa.schema([
    ("id", pa.string()), ("line", pa.int64()), ("batch", pa.string()), ("domain", pa.string()),
    ("task", pa.string()), ("prompt", pa.string()), ("responses", pa.list_(pa.string())),
    ("scale", pa.list_(pa.float64())), ("label", pa.float64()), ("label_source", pa.string()),
    ("judge_name", pa.string()), ("judge_version", pa.string()), ("judge_verdict", pa.float64()),
    ("route", pa.string()), ("audit", pa.bool_()), ("audit_probability", pa.float64()),
    ("routing_reason", pa.string()), ("router_version", pa.string()), ("routing_run", pa.int64()),
    ("routing_mode", pa.string()), ("router_score", pa.string()), ("certification", pa.string()),
    ("reviewer_credentials", pa.list_(pa.int64())), ("batch_date", pa.string()), ("imported_at", pa.string()),
    ("routed_at", pa.string()), ("labelled_at", pa.string()), ("released", pa.bool_()),
])


@dataclass
class Written:
    """A file being written: ``chunks`` yields its bytes; ``rows`` and ``left_out`` count what was
    written and left out so far (final once ``chunks`` is exhausted)."""

    chunks: Iterator[bytes] = field(default_factory=lambda: iter(()))
    rows: int = 0
    left_out: Counter[str] = field(default_factory=Counter)


def _chunked(rows: Iterable[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], ...]]:
    return itertools.batched(rows, ROWS_PER_CHUNK)


def _jsonl(rows: Iterable[dict[str, Any]], out: Written) -> Iterator[bytes]:
    for chunk in _chunked(rows):
        out.rows += len(chunk)
        yield "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chunk).encode()


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell: nested values as JSON, and text a spreadsheet would evaluate
    prefixed with an apostrophe so it stays text."""
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_jsonl(export: LineageExport, out: Written) -> Iterator[bytes]:
    return _jsonl(export.rows, out)


def write_csv(export: LineageExport, out: Written) -> Iterator[bytes]:
    writer: csv.DictWriter[str] | None = None
    buffer = io.StringIO()
    for chunk in _chunked(export.rows):
        if writer is None:
            writer = csv.DictWriter(buffer, fieldnames=list(chunk[0]))
            writer.writeheader()
        writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in chunk)
        out.rows += len(chunk)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()


class _Sink(io.RawIOBase):
    """What ParquetWriter writes into: kept until the next ``take``, then handed on."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def _parquet_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: json.dumps(v) if isinstance(v, dict) else v for k, v in row.items()}


def write_parquet(export: LineageExport, out: Written) -> Iterator[bytes]:
    # The file's metadata says whether the batch was released.
    schema = PARQUET_SCHEMA.with_metadata({"batch": export.batch.name, "released": json.dumps(export.released),
                                           "gate_reasons": json.dumps(export.gate_reasons)})
    sink = _Sink()
    with pq.ParquetWriter(sink, schema) as writer:
        for chunk in _chunked(export.rows):
            writer.write_batch(pa.RecordBatch.from_pylist([_parquet_row(r) for r in chunk], schema=schema))
            out.rows += len(chunk)
            yield sink.take()
    yield sink.take()


def preference_row(row: dict[str, Any]) -> dict[str, Any] | str:
    """``{"prompt", "chosen", "rejected"}`` plus the row's lineage keys, or why it is left out
    (``preference_left_out``, the rule the count before streaming applies too)."""
    if (reason := preference_left_out(row["task"], row["label"])) is not None:
        return reason
    chosen = int(row["label"]) - 1
    return {"prompt": row["prompt"], "chosen": row["responses"][chosen], "rejected": row["responses"][1 - chosen],
            "id": row["id"], "label_source": row["label_source"], "router_version": row["router_version"],
            "released": row["released"]}


def _pairs(rows: Iterable[dict[str, Any]], out: Written) -> Iterator[dict[str, Any]]:
    for row in rows:
        pair = preference_row(row)
        if isinstance(pair, str):
            out.left_out[pair] += 1
        else:
            yield pair


def write_preference(export: LineageExport, out: Written) -> Iterator[bytes]:
    return _jsonl(_pairs(export.rows, out), out)


WRITERS: dict[str, Callable[[LineageExport, Written], Iterator[bytes]]] = {
    "jsonl": write_jsonl, "csv": write_csv, "parquet": write_parquet, "preference": write_preference,
}


def export_write(export: LineageExport, fmt: str) -> Written:
    """The file as a stream of chunks (nothing is read before the first chunk is asked for)."""
    if fmt not in WRITERS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    out = Written()
    out.chunks = WRITERS[fmt](export, out)
    return out
