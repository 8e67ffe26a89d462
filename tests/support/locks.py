"""A real transient database error without stopping the server: another connection holds a lock
and this test's connection may wait only a moment for it, so PostgreSQL cancels the wait with
``canceling statement due to lock timeout`` (an OperationalError, as Django and the tasks see it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.db import connection

from tests.support import processes


@contextmanager
def lock_held(sql: str, params: list[object] | None = None, *, wait_ms: int = 100) -> Iterator[psycopg.Connection]:
    """Run ``sql`` (a ``LOCK TABLE`` or ``SELECT ... FOR UPDATE``) on a connection of its own and keep
    its transaction open; ``rollback()`` on the yielded connection ends the outage early.
    The test's data must be committed (transactional_db) for the other connection to see it."""
    with psycopg.connect(processes.test_db_url()) as locker, connection.cursor() as cursor:
        cursor.execute(f"SET lock_timeout = '{int(wait_ms)}ms'")
        try:
            locker.execute(sql, params)
            yield locker
        finally:
            locker.rollback()
            cursor.execute("RESET lock_timeout")
