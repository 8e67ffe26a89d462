"""A backtest job stores what failed for the page to show, except a database that cannot be reached
for a moment: that is raised, so the task retries the backtest instead of storing an error."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from routing.batches.models import Example
from routing.training.backtest_jobs import backtest_run_or_error
from tests import factories
from tests.support.locks import lock_held


def test_backtest_run_or_error_returns_a_refusal_as_the_error(db):
    batch = factories.batch("bt-small").batch  # 5 items, each with a human label
    assert backtest_run_or_error(batch=batch, alpha=0.2, delta=0.1, splits=4) == {
        "error": "only 5 items with a human reference; the backtest needs at least 20"}


def test_backtest_run_or_error_raises_a_transient_database_error(transactional_db):
    """Another connection holds the examples table; the backtest may wait 100 ms for it."""
    batch = factories.batch("bt-locked").batch
    with (lock_held(f"LOCK TABLE {Example._meta.db_table} IN ACCESS EXCLUSIVE MODE"),
          pytest.raises(OperationalError, match="^canceling statement due to lock timeout")):
        backtest_run_or_error(batch=batch, alpha=0.2, delta=0.1, splits=4)
