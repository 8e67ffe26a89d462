"""The item search's index of prompts and responses (PostgreSQL): a housekeeping task copies a
batch's prompts and response texts (SQL ``routing_responses_text``, migration 0022) into
``ExampleSearch`` (under trigram GIN indexes) after its import commits, so the import writes no
trigram index, then marks the batch (``SearchIndexedBatch``); until then the search scans that
batch. Idempotent: rows go in with ON CONFLICT DO NOTHING, so a redelivery or a second run writes
nothing twice. SQLite (the demo) keeps no index: its search always scans."""

from __future__ import annotations

import time

from django.db import connection, transaction

from routing.batches.selectors import search_unindexed_batches

# The advisory lock space of the examples' insert trigger (routing/migrations/0021_example_search.py).
SEARCH_LOCK_NAMESPACE = 74202
# Prompts copied per transaction: a failure or time limit keeps the chunks already written.
SEARCH_CHUNK = 20_000

_CHUNK_SQL = """
WITH chunk AS (
    SELECT id, line_number, prompt, responses FROM routing_example
    WHERE batch_id = %(batch)s AND (line_number, id) > (%(line)s, %(id)s)
    ORDER BY line_number, id LIMIT %(size)s
), written AS (
    INSERT INTO routing_examplesearch (example_id, prompt, responses)
    SELECT id, prompt, routing_responses_text(responses) FROM chunk
    ON CONFLICT (example_id) DO NOTHING RETURNING 1
)
SELECT c.line_number, c.id, (SELECT count(*) FROM written) FROM chunk c ORDER BY c.line_number DESC, c.id DESC LIMIT 1
"""
# Under the batch's exclusive lock: whatever an import committed while the chunks were copied.
_REST_SQL = """
INSERT INTO routing_examplesearch (example_id, prompt, responses)
SELECT e.id, e.prompt, routing_responses_text(e.responses) FROM routing_example e
WHERE e.batch_id = %(batch)s AND NOT EXISTS (SELECT 1 FROM routing_examplesearch s WHERE s.example_id = e.id)
ON CONFLICT (example_id) DO NOTHING
"""
_MARK_SQL = """
INSERT INTO routing_searchindexedbatch (batch_id, indexed_at) SELECT id, now() FROM routing_batch WHERE id = %(batch)s
ON CONFLICT (batch_id) DO UPDATE SET indexed_at = EXCLUDED.indexed_at
"""


def _chunks_copy(batch_id: int) -> int:
    """Copy the batch's prompts in line order, one chunk per transaction; the rows copied."""
    written, line, last_id = 0, -1, 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_CHUNK_SQL, {"batch": batch_id, "line": line, "id": last_id, "size": SEARCH_CHUNK})
            row = cursor.fetchone()
        if row is None:
            return written
        line, last_id, count = row
        written += count


def example_search_index(*, batch_id: int) -> int:
    """Copy every prompt of the batch into the search table and mark the batch indexed; returns
    the rows written (0 when all were there already, or on SQLite). The mark is set under the
    exclusive advisory lock the insert trigger shares, after a last pass over the batch: an import
    still writing to the batch finishes first, and its prompts are copied before the mark."""
    if connection.vendor != "postgresql":
        return 0
    written = _chunks_copy(batch_id)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [SEARCH_LOCK_NAMESPACE, batch_id])
        cursor.execute(_REST_SQL, {"batch": batch_id})
        written += cursor.rowcount
        cursor.execute(_MARK_SQL, {"batch": batch_id})
    return written


def example_search_backfill(*, seconds: float) -> int:
    """Index unmarked batches, oldest first, until ``seconds`` have passed (the last one started is
    finished); the batches indexed. A safety net behind the task queued at import: batches imported
    before the search table existed, or whose task was lost."""
    if connection.vendor != "postgresql":
        return 0
    started, done = time.monotonic(), 0
    for batch_id in search_unindexed_batches():
        if time.monotonic() - started >= seconds:
            break
        example_search_index(batch_id=batch_id)
        done += 1
    return done
