"""Format-v1 import on PostgreSQL: stream validated lines through COPY into one staging table,
then INSERT ... SELECT into the real tables, all in the caller's transaction.

One staging table holds all three kinds of row (example, judgment, label; ``kind`` tells them
apart), since a connection runs one COPY at a time and the file is read once. The staging table
is temporary (dropped at commit); a bad line anywhere raises after the last line, so the
caller's rollback leaves nothing written. Existing ids of the batch are skipped by the unique
constraints (ON CONFLICT DO NOTHING), which makes a re-import create no duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from django.apps import apps
from django.db import connection

from routing.models import Batch, Domain, Example, Judgment

STAGE = "ingest_stage"
STAGE_COLUMNS = (
    "kind", "pos", "external_id", "line_number", "domain", "task", "prompt", "responses", "scale_min",
    "scale_max", "metadata", "judge", "variant", "ord", "sample", "choice", "rating", "scores", "probability",
    "rationale", "error", "annotator",
)
_STAGE_TYPES = (
    '"char"', "integer", "text", "integer", "text", "text", "text", "jsonb", "integer", "integer", "jsonb", "text",
    "text", "text", "integer", "integer", "double precision", "jsonb", "double precision", "text", "text", "text",
)
NO_VERDICT = "no usable verdict"


@dataclass
class CopyCounts:
    created: int = 0
    skipped: int = 0
    judgments: int = 0
    human_labels: int = 0


def _json(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        # orjson refuses integers past 64 bits; json writes them exactly.
        return json.dumps(value)


def _choice(value: Any) -> int | None:
    # Validation accepts 1.0 for 1 (equal in JSON); COPY into an integer column does not.
    return None if value is None else int(value)


def _example_row(number: int, item: dict[str, Any]) -> tuple[Any, ...]:
    scale = item.get("scale") or {}
    return ("e", 0, item["id"], number, item["domain"].strip(), item["task"], item["prompt"],
            _json(item["responses"]), scale.get("min"), scale.get("max"), _json(item.get("metadata", {})),
            None, None, None, None, None, None, None, None, None, None, None)


def _judgment_rows(number: int, item: dict[str, Any]) -> list[tuple[Any, ...]]:
    # The same judge/variant/order may appear several times (samples): number them.
    counts: dict[tuple[str, str, str], int] = {}
    rows = []
    for offset, j in enumerate(item.get("judgments", []), start=1):
        key = (j["judge"], j.get("variant", ""), j.get("order", "ab"))
        sample = counts[key] = counts.get(key, -1) + 1
        choice, rating = _choice(j.get("choice")), j.get("rating")
        rows.append(("j", offset, item["id"], number, None, None, None, None, None, None, None, *key, sample,
                     choice, rating, _json(j.get("scores")), j.get("probability"), j.get("rationale", ""),
                     "" if (choice is not None or rating is not None) else NO_VERDICT, None))
    return rows


def _label_rows(number: int, item: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [("l", offset, item["id"], number, None, None, None, None, None, None, None, None, None, None, None,
             _choice(h.get("choice")), h.get("rating"), None, None, h.get("rationale", ""), None, h["annotator"])
            for offset, h in enumerate(item.get("human_labels", []), start=1)]


def _stage_create(cursor: Any) -> None:
    columns = ", ".join(f"{name} {kind}" for name, kind in zip(STAGE_COLUMNS, _STAGE_TYPES, strict=True))
    cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
    cursor.execute(f"CREATE TEMPORARY TABLE {STAGE} ({columns}) ON COMMIT DROP")


def stage_copy(cursor: Any, items: Iterable[tuple[int, dict[str, Any]]]) -> int:
    """COPY every item's rows into the staging table as they come; returns how many items."""
    staged = 0
    with cursor.copy(f"COPY {STAGE} ({', '.join(STAGE_COLUMNS)}) FROM STDIN") as copy:
        for number, item in items:
            copy.write_row(_example_row(number, item))
            for row in _judgment_rows(number, item):
                copy.write_row(row)
            for row in _label_rows(number, item):
                copy.write_row(row)
            staged += 1
    return staged


def _label_table() -> str:
    # By name: routing does not import the reviewers app, which owns the label model.
    return apps.get_model("reviewers", "HumanLabel")._meta.db_table


# Rows are stamped with clock_timestamp(), the wall clock, as the ORM path stamps them with
# timezone.now(): now() is the transaction's start, which would date an import's labels before
# anything that happened earlier in the same transaction (a router trained, say).
def _examples_insert(cursor: Any, batch_id: int) -> tuple[int, int]:
    """Insert the staged examples not yet in the batch; (how many, the lowest new id)."""
    cursor.execute(
        f"""WITH ins AS (
            INSERT INTO {Example._meta.db_table} (batch_id, external_id, line_number, domain_id, task, prompt,
                responses, scale_min, scale_max, metadata, is_gold, flagged, created_at)
            SELECT %s, s.external_id, s.line_number, d.id, s.task, s.prompt, s.responses, s.scale_min,
                s.scale_max, s.metadata, false, false, clock_timestamp()
            FROM {STAGE} s JOIN {Domain._meta.db_table} d ON d.path = s.domain
            WHERE s.kind = 'e' ORDER BY s.line_number
            ON CONFLICT (batch_id, external_id) DO NOTHING RETURNING id)
        SELECT count(*), coalesce(min(id), 0) FROM ins""",  # noqa: S608 - table names only
        [batch_id],
    )
    created, first_id = cursor.fetchone()
    return int(created), int(first_id)


# Staged rows of kind %s that belong to an example created by this import (ids from %s up:
# the batch row is locked, so no other import adds to it meanwhile).
_NEW_ROWS = f"""FROM {STAGE} s JOIN {Example._meta.db_table} e
    ON e.batch_id = %s AND e.external_id = s.external_id AND e.id >= %s WHERE s.kind = %s"""


def _judgments_insert(cursor: Any, batch_id: int, first_id: int) -> int:
    # No ON CONFLICT: these examples are new in this transaction, and each of their staged
    # judgments has its own (judge, variant, order, sample), so none can collide.
    cursor.execute(
        f"""INSERT INTO {Judgment._meta.db_table} (example_id, judge, variant, "order", sample, choice, rating,
                scores, probability, rationale, error, attempts, prompt_tokens, completion_tokens, created_at)
            SELECT e.id, s.judge, s.variant, s.ord, s.sample, s.choice, s.rating, s.scores, s.probability,
                s.rationale, s.error, 1, 0, 0, clock_timestamp() {_NEW_ROWS}""",
        [batch_id, first_id, "j"],
    )
    return int(cursor.rowcount)


def _labels_insert(cursor: Any, batch_id: int, first_id: int) -> int:
    cursor.execute(
        f"""INSERT INTO {_label_table()} (example_id, annotator, source, choice, rating, rationale, flags,
                criteria, created_at)
            SELECT e.id, s.annotator, 'import', s.choice, s.rating, s.rationale, '[]', '{{}}', clock_timestamp()
            {_NEW_ROWS}
            ON CONFLICT DO NOTHING""",
        [batch_id, first_id, "l"],
    )
    return int(cursor.rowcount)


def _first_judge(cursor: Any, batch_id: int, first_id: int) -> str:
    cursor.execute(f"SELECT s.judge {_NEW_ROWS} ORDER BY s.line_number, s.pos LIMIT 1", [batch_id, first_id, "j"])
    row = cursor.fetchone()
    return row[0] if row else ""


def copy_import(*, batch: Batch, items: Iterable[tuple[int, dict[str, Any]]]) -> CopyCounts:
    """Stage ``items`` by COPY and insert what is new into ``batch``; call inside a transaction
    that holds the batch row (SELECT ... FOR UPDATE)."""
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor  # psycopg's own cursor: Django's wrapper has no COPY
        _stage_create(cursor)
        staged = stage_copy(cursor, items)
        # A temporary table has no statistics: without them the joins below would guess badly.
        cursor.execute(f"ANALYZE {STAGE}")
        cursor.execute(f"""INSERT INTO {Domain._meta.db_table} (path, always_human)
            SELECT DISTINCT domain, false FROM {STAGE} WHERE kind = 'e' ON CONFLICT (path) DO NOTHING""")  # noqa: S608
        created, first_id = _examples_insert(cursor, batch.pk)
        counts = CopyCounts(created=created, skipped=staged - created)
        if created:
            counts.judgments = _judgments_insert(cursor, batch.pk, first_id)
            counts.human_labels = _labels_insert(cursor, batch.pk, first_id)
            if not batch.primary_judge and counts.judgments:
                batch.primary_judge = _first_judge(cursor, batch.pk, first_id)
                batch.save(update_fields=["primary_judge"])
        cursor.execute(f"DROP TABLE {STAGE}")
    return counts
