"""Writers for the lineage export: JSONL, CSV (safe to open in a spreadsheet), Parquet and
preference pairs. Each returns the file's bytes and what it left out."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .export import LineageExport

FORMATS = ("jsonl", "csv", "parquet", "preference")
CONTENT_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv", "parquet": "application/vnd.apache.parquet",
                 "preference": "application/x-ndjson"}
EXTENSIONS = {"jsonl": "jsonl", "csv": "csv", "parquet": "parquet", "preference": "preference.jsonl"}
# A spreadsheet runs a cell starting with one of these as a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Written:
    data: bytes
    rows: int
    left_out: dict[str, int] = field(default_factory=dict)


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell: nested values as JSON, and text a spreadsheet would evaluate
    prefixed with an apostrophe so it stays text."""
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_jsonl(export: LineageExport) -> Written:
    return Written(_jsonl(export.rows), len(export.rows))


def write_csv(export: LineageExport) -> Written:
    out = io.StringIO()
    if export.rows:
        writer = csv.DictWriter(out, fieldnames=list(export.rows[0]))
        writer.writeheader()
        writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in export.rows)
    return Written(out.getvalue().encode(), len(export.rows))


def write_parquet(export: LineageExport) -> Written:
    # Nested values with varying keys (the certification) go in as JSON text, so every row has
    # the same schema; the file's metadata says whether the batch was released.
    flat = [{k: json.dumps(v) if isinstance(v, dict) else v for k, v in row.items()} for row in export.rows]
    table = pa.Table.from_pylist(flat) if flat else pa.table({"id": pa.array([], pa.string())})
    table = table.replace_schema_metadata({"batch": export.batch.name, "released": json.dumps(export.released),
                                           "gate_reasons": json.dumps(export.gate_reasons)})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return Written(sink.getvalue(), len(flat))


def preference_row(row: dict[str, Any]) -> dict[str, Any] | str:
    """``{"prompt", "chosen", "rejected"}`` plus the row's lineage keys, or why it is left out."""
    if row["task"] != "pairwise":
        return "not_pairwise"
    if row["label"] is None:
        return "unlabeled"
    if int(row["label"]) == 0:
        return "tie"
    chosen = int(row["label"]) - 1
    return {"prompt": row["prompt"], "chosen": row["responses"][chosen], "rejected": row["responses"][1 - chosen],
            "id": row["id"], "label_source": row["label_source"], "router_version": row["router_version"],
            "released": row["released"]}


def write_preference(export: LineageExport) -> Written:
    kept, left_out = [], Counter[str]()
    for row in export.rows:
        pair = preference_row(row)
        if isinstance(pair, str):
            left_out[pair] += 1
        else:
            kept.append(pair)
    return Written(_jsonl(kept), len(kept), dict(left_out))


WRITERS: dict[str, Callable[[LineageExport], Written]] = {
    "jsonl": write_jsonl, "csv": write_csv, "parquet": write_parquet, "preference": write_preference,
}


def export_write(export: LineageExport, fmt: str) -> Written:
    if fmt not in WRITERS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return WRITERS[fmt](export)
