"""Format-v1 import on PostgreSQL: validated items go straight into their tables by COPY, a chunk
at a time, all in the caller's transaction.

Each item's rows are formatted as COPY text as it arrives and sent every ``CHUNK_ITEMS`` items,
one COPY per table (a connection runs one COPY at a time, and the file is read once). Example ids
are drawn from the table's sequence beforehand, so judgments and labels are written with their
example's id: no staging table, no join of a million rows back to their examples. A bad line
anywhere raises after the last line (validated_items yields nothing past the first one), so the
caller's rollback leaves nothing written. Ids already in the batch are read once, under the
batch row's lock, and skipped, which makes a re-import create no duplicates; the unique
constraints still refuse any row that would be one.

Foreign keys: PostgreSQL checks each new row's keys with a query of its own (a row trigger), over
half of the database's time for the 1.2M rows of 100k items. Where the role may set
``session_replication_role`` (a superuser, or ``GRANT SET ON PARAMETER`` on PostgreSQL 15+), the
COPYs run with it at ``replica``, which skips those row triggers, and the keys hold by how the rows
are made instead: each judgment and label carries the id its example's line drew and was written
with, in the same or an earlier COPY of this transaction (no other transaction sees those examples
before commit), the batch row is held by the caller (SELECT ... FOR UPDATE) and each domain row
is locked FOR KEY SHARE, as the checks would have locked it, so neither can be deleted meanwhile.
The project's own triggers on these tables are ENABLE ALWAYS (migrations), so they fire either
way; an import finds any that is not and then checks row by row. Without the privilege every
row is checked as it goes in.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from collections.abc import Iterable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.apps import apps
from django.db import connection
from django.utils import timezone
from psycopg import pq

from routing.batches.models import Batch, Domain, Example
from routing.judging.models import Judgment

# Items per round of COPYs: a few MB of text held at once, and few statements per file.
CHUNK_ITEMS = 2000
# Example ids drawn from the sequence at a time, doubling up to the chunk: a one-line file
# wastes few ids, a large one asks rarely.
FIRST_ID_BLOCK = 64
# The COPY thread takes the GIL back from the reading thread each time the socket drains (about
# 800 times for 100k items), and waits for a forced switch to get it: at the default 5 ms,
# PostgreSQL would sit idle for up to that long each time.
SWITCH_INTERVAL_S = 0.0005
NO_VERDICT = "no usable verdict"
NULL = "\\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})

_EXAMPLE_COLUMNS = ("id, batch_id, external_id, line_number, domain_id, task, prompt, responses, scale_min, "
                    "scale_max, metadata, is_gold, flagged, created_at")
_JUDGMENT_COLUMNS = ('example_id, judge, variant, "order", sample, choice, rating, scores, probability, rationale, '
                     "error, attempts, prompt_tokens, completion_tokens, created_at")
_LABEL_COLUMNS = "example_id, annotator, source, choice, rating, rationale, flags, criteria, created_at"


@dataclass
class CopyCounts:
    created: int = 0
    skipped: int = 0
    judgments: int = 0
    human_labels: int = 0


def _label_table() -> str:
    # By name: routing does not import the reviewers app, which owns the label model.
    return apps.get_model("reviewers", "HumanLabel")._meta.db_table


def _copies() -> tuple[str, str, str]:
    return (f"COPY {Example._meta.db_table} ({_EXAMPLE_COLUMNS}) FROM STDIN",
            f"COPY {Judgment._meta.db_table} ({_JUDGMENT_COLUMNS}) FROM STDIN",
            f"COPY {_label_table()} ({_LABEL_COLUMNS}) FROM STDIN")


def copy_text(value: str) -> str:
    """A string as a field of COPY's text format (backslash, newline, CR and tab escaped)."""
    if "\\" in value or "\n" in value or "\r" in value or "\t" in value:
        return value.translate(_ESCAPES)
    return value


def copy_json(value: Any) -> str:
    """A JSON value as a jsonb field of COPY's text format (\\N for None)."""
    if value is None:
        return NULL
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        # orjson refuses integers past 64 bits; json writes them exactly.
        text = json.dumps(value)
    # JSON text holds no raw newline, CR or tab: only its backslashes need escaping.
    return text.replace("\\", "\\\\")


def copy_number(value: Any) -> str:
    return NULL if value is None else str(value)


_CHOICES = {None: NULL, 0: "0", 1: "1", 2: "2"}


def _choice(value: Any) -> str:
    # Validation accepts 1.0 for 1 (equal in JSON); COPY into an integer column does not.
    return NULL if value is None else str(int(value))


def example_line(eid: int, batch_id: int, number: int, domain_id: int, item: dict[str, Any], stamp: str) -> str:
    scale = item.get("scale") or {}
    return (f"{eid}\t{batch_id}\t{copy_text(item['id'])}\t{number}\t{domain_id}\t{item['task']}\t"
            f"{copy_text(item['prompt'])}\t{copy_json(item['responses'])}\t{copy_number(scale.get('min'))}\t"
            f"{copy_number(scale.get('max'))}\t{copy_json(item.get('metadata', {}))}\tf\tf\t{stamp}\n")


@functools.lru_cache(maxsize=4096)
def _judge_key_text(judge: str, variant: str, order: str) -> str:
    # Few distinct judge/variant/order triples per file: escaped once, not once a row.
    return f"{copy_text(judge)}\t{copy_text(variant)}\t{order}"


def judgment_lines(eid: int, judgments: list[dict[str, Any]], stamp: str) -> list[str]:
    # The same judge/variant/order may appear several times (samples): number them in file order.
    counts: dict[tuple[str, str, str], int] = {}
    lines = []
    tail = f"\t1\t0\t0\t{stamp}\n"
    for j in judgments:
        get = j.get
        key = (j["judge"], get("variant", ""), get("order", "ab"))
        sample = counts[key] = counts.get(key, -1) + 1
        choice, rating, scores, probability = get("choice"), get("rating"), get("scores"), get("probability")
        rationale = get("rationale")
        head = f"{eid}\t{_judge_key_text(*key)}\t{sample}\t{_CHOICES.get(choice) or _choice(choice)}\t"
        if choice is not None and rating is None and scores is None and not rationale:
            # The common row (a choice, perhaps its probability, nothing else): fewer fields to format.
            lines.append(f"{head}\\N\t\\N\t{NULL if probability is None else probability}\t\t{tail}")
            continue
        error = "" if (choice is not None or rating is not None) else NO_VERDICT
        lines.append(f"{head}{NULL if rating is None else rating}\t{NULL if scores is None else copy_json(scores)}\t"
                     f"{NULL if probability is None else probability}\t{copy_text(rationale or '')}\t{error}{tail}")
    return lines


def label_lines(eid: int, labels: list[dict[str, Any]], stamp: str) -> list[str]:
    """One imported label per annotator and example (the first given), as the unique index holds."""
    lines, annotators = [], set()
    for h in labels:
        if h["annotator"] in annotators:
            continue
        annotators.add(h["annotator"])
        lines.append(f"{eid}\t{copy_text(h['annotator'])}\timport\t{_choice(h.get('choice'))}\t"
                     f"{copy_number(h.get('rating'))}\t{copy_text(h.get('rationale', ''))}\t[]\t{{}}\t{stamp}\n")
    return lines


def _stamp() -> str:
    # The wall clock, as the ORM path stamps rows with timezone.now(): the transaction's start
    # (now() in SQL) would date an import's rows before what happened earlier in the same transaction.
    return timezone.now().isoformat()


@dataclass
class _Writer:
    """Formats items into COPY text and sends it a chunk at a time; keeps the counts."""

    cursor: Any
    pool: futures.Executor
    batch_id: int
    existing: set[str]
    sending: futures.Future[None] | None = None
    copies: tuple[str, str, str] = field(default_factory=_copies)
    buffers: tuple[list[str], list[str], list[str]] = field(default_factory=lambda: ([], [], []))
    domains: dict[str, int] = field(default_factory=dict)
    ids: list[int] = field(default_factory=list)  # drawn, not yet used: the lowest last
    block: int = FIRST_ID_BLOCK
    pending: int = 0
    stamp: str = field(default_factory=_stamp)
    first_judge: str = ""
    counts: CopyCounts = field(default_factory=CopyCounts)

    def add(self, number: int, item: dict[str, Any]) -> None:
        if item["id"] in self.existing:
            self.counts.skipped += 1
            return
        eid = self._next_id()
        examples, judgments, labels = self.buffers
        examples.append(example_line(eid, self.batch_id, number, self._domain(item["domain"].strip()), item,
                                     self.stamp))
        new_judgments = judgment_lines(eid, item.get("judgments", []), self.stamp)
        new_labels = label_lines(eid, item.get("human_labels", []), self.stamp)
        judgments += new_judgments
        labels += new_labels
        if new_judgments and not self.first_judge:
            self.first_judge = item["judgments"][0]["judge"]
        self.counts.created += 1
        self.counts.judgments += len(new_judgments)
        self.counts.human_labels += len(new_labels)
        self.pending += 1
        if self.pending >= CHUNK_ITEMS:
            self.flush()

    def flush(self, *, last: bool = False) -> None:
        """Hand the chunk's text to the COPY thread, once the previous chunk is in."""
        self.settle(check=True)
        if not last and len(self.ids) < CHUNK_ITEMS:
            # Drawn now, while the connection is free: the next chunk never waits for this one.
            self.ids = example_ids_draw(self.cursor, CHUNK_ITEMS) + self.ids
        texts = ["".join(lines) for lines in self.buffers]
        for lines in self.buffers:
            lines.clear()
        self.sending = self.pool.submit(copies_send, self.cursor, self.copies, texts)
        self.pending = 0
        self.stamp = _stamp()

    def settle(self, *, check: bool) -> None:
        """Wait for the chunk being sent; with ``check``, raise what failed in it."""
        sending, self.sending = self.sending, None
        if sending is not None:
            futures.wait([sending])
            if check:
                sending.result()

    def _next_id(self) -> int:
        if not self.ids:
            self.settle(check=True)
            self.ids = example_ids_draw(self.cursor, self.block)
            self.block = min(self.block * 2, CHUNK_ITEMS)
        return self.ids.pop()

    def _domain(self, path: str) -> int:
        if path not in self.domains:
            self.settle(check=True)
            self.domains[path] = domain_id_ensure(self.cursor, path)
        return self.domains[path]


def copies_send(cursor: Any, copies: tuple[str, ...], texts: list[str]) -> None:
    """One COPY per table with rows (examples first: the others' foreign keys are checked at once)."""
    for sql, text in zip(copies, texts, strict=True):
        if text:
            with cursor.copy(sql) as copy:
                copy.write(text)


def example_ids_draw(cursor: Any, n: int) -> list[int]:
    """``n`` fresh example ids from the table's sequence, the lowest last (taken with pop())."""
    sequence = f"pg_get_serial_sequence('{Example._meta.db_table}', 'id')"
    cursor.execute(f"SELECT nextval({sequence}) FROM generate_series(1, %s)", [n])  # noqa: S608 - table name only
    return sorted((row[0] for row in cursor.fetchall()), reverse=True)


def domain_id_ensure(cursor: Any, path: str) -> int:
    """The id of the domain at ``path``, created if new (in the caller's transaction)."""
    table = Domain._meta.db_table
    cursor.execute(f"INSERT INTO {table} (path, always_human) VALUES (%s, false) "  # noqa: S608 - table name only
                   "ON CONFLICT (path) DO NOTHING", [path])
    # Locked as a foreign-key check would lock it: the domain cannot be deleted before commit.
    cursor.execute(f"SELECT id FROM {table} WHERE path = %s FOR KEY SHARE", [path])  # noqa: S608 - table name only
    return int(cursor.fetchone()[0])


def _existing_ids(cursor: Any, batch_id: int) -> set[str]:
    cursor.execute(f"SELECT external_id FROM {Example._meta.db_table} WHERE batch_id = %s",  # noqa: S608
                   [batch_id])
    return {row[0] for row in cursor.fetchall()}


def _tables() -> list[str]:
    return [Example._meta.db_table, Judgment._meta.db_table, _label_table()]


def _foreign_keys(cursor: Any) -> str:
    """The deferred foreign keys of the tables the import writes, quoted for SET CONSTRAINTS."""
    cursor.execute("SELECT conname FROM pg_constraint WHERE contype = 'f' AND condeferred "
                   "AND conrelid = ANY(%s::regclass[])", [_tables()])
    return ", ".join('"' + row[0].replace('"', '""') + '"' for row in cursor.fetchall())


_MAY_SET = "SELECT has_parameter_privilege('session_replication_role', 'SET')"
_MAY_SET_14 = "SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)"
_NONE_SKIPPED = (" AND NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = ANY(%s::regclass[]) "
                 "AND NOT tgisinternal AND tgenabled NOT IN ('A', 'D'))")


def row_triggers_skippable(cursor: Any) -> bool:
    """Whether the COPYs may run with session_replication_role = replica (see the module's
    docstring): the role may set it, and no enabled trigger of ours on the import's tables would
    then be skipped."""
    # has_parameter_privilege (and GRANT SET ON PARAMETER) came with PostgreSQL 15.
    may_set = _MAY_SET if cursor.connection.info.server_version >= 150000 else _MAY_SET_14
    cursor.execute(may_set + _NONE_SKIPPED, [_tables()])
    return bool(cursor.fetchone()[0])


@contextlib.contextmanager
def _keys_checked(cursor: Any) -> Iterator[None]:
    """Around the COPYs: the foreign keys kept without a query per row where the role may
    (``row_triggers_skippable``), else checked as each COPY ends, rather than all at commit, so
    that work overlaps the reading; in both cases the settings are as before afterwards."""
    if row_triggers_skippable(cursor):
        cursor.execute("SELECT current_setting('session_replication_role')")
        before = cursor.fetchone()[0]
        cursor.execute("SET LOCAL session_replication_role = replica")
        restore, values = "SELECT set_config('session_replication_role', %s, true)", [before]
    else:
        keys = _foreign_keys(cursor)
        cursor.execute(f"SET CONSTRAINTS {keys} IMMEDIATE")
        restore, values = f"SET CONSTRAINTS {keys} DEFERRED", []
    try:
        yield
    finally:
        # Also after a bad line, for a caller that goes on in the same transaction (not
        # possible once a statement failed: then the transaction is lost anyway).
        if cursor.connection.info.transaction_status != pq.TransactionStatus.INERROR:
            cursor.execute(restore, values)


@contextlib.contextmanager
def _prompt_switches() -> Iterator[None]:
    """The interpreter's thread switch interval at SWITCH_INTERVAL_S meanwhile (it is per process)."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _rows_write(writer: _Writer, items: Iterable[tuple[int, dict[str, Any]]]) -> None:
    try:
        for number, item in items:
            writer.add(number, item)
        writer.flush(last=True)
        writer.settle(check=True)
    finally:
        # A bad line (or a failed COPY) raises here: the caller's rollback must not run while a
        # chunk is still being sent on the same connection.
        writer.settle(check=False)


def copy_import(*, batch: Batch, items: Iterable[tuple[int, dict[str, Any]]]) -> CopyCounts:
    """COPY what is new in ``items`` into ``batch``; call inside a transaction that holds the
    batch row (SELECT ... FOR UPDATE), so no other import adds to it meanwhile.

    A thread sends each chunk while the next one is read and validated (the connection is used
    by one thread at a time)."""
    with connection.cursor() as wrapper, futures.ThreadPoolExecutor(max_workers=1) as pool, _prompt_switches():
        cursor = wrapper.cursor  # psycopg's own cursor: Django's wrapper has no COPY
        with _keys_checked(cursor):
            writer = _Writer(cursor=cursor, pool=pool, batch_id=batch.pk, existing=_existing_ids(cursor, batch.pk))
            _rows_write(writer, items)
    if not batch.primary_judge and writer.first_judge:
        batch.primary_judge = writer.first_judge
        batch.save(update_fields=["primary_judge"])
    return writer.counts
