"""Backtests run by a worker: a pending marker when queued, a result (or an error) when done.

The page polls for the result. A backtest that raises anything stores the error; one whose worker
died or whose message was lost is ended by the sweeper, which writes an error result for a pending
marker older than the stale interval, so the page never polls forever."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from django.utils import timezone

from hybridqc.queueing import DATABASE_DOWN
from routing.batches.models import Batch
from routing.training.router_training import backtest_result_path, backtest_result_save, batch_backtest_run

log = logging.getLogger(__name__)
STALLED = "The backtest stopped making progress (its worker stopped or the queue lost it); run it again."


def backtest_pending_path(token: str) -> Path:
    return backtest_result_path(token).with_suffix(".pending")


def backtest_pending_mark(*, token: str, batch: Batch, params: dict[str, Any] | None = None) -> None:
    """Record that a backtest was queued, before its message is sent; with the form's ``params``
    (batch, alpha, delta, splits) a failure it ends in can be run again from the jobs list."""
    path = backtest_pending_path(token)
    path.parent.mkdir(parents=True, exist_ok=True)
    marker = {"batch": batch.pk, "queued_at": timezone.now().isoformat(), **({"params": params} if params else {})}
    path.write_text(json.dumps(marker))


def backtest_failure_save(*, token: str, error: str) -> None:
    """Store ``error`` as the backtest's result, with the parameters its marker recorded."""
    path = backtest_pending_path(token)
    params = json.loads(path.read_text()).get("params") if path.exists() else None
    backtest_result_save(token=token, result={"error": error, **({"params": params} if params else {})})


def backtest_progress_save(*, token: str, done: int, total: int) -> None:
    """Store how many splits are done on the job's marker (which also tells the sweeper the
    backtest still moves). Written whole and swapped in, so a poll never reads half of it."""
    path = backtest_pending_path(token)
    if not path.exists():
        return
    marker = json.loads(path.read_text())
    tmp = path.with_suffix(".progress")
    tmp.write_text(json.dumps({**marker, "done": done, "total": total}))
    tmp.replace(path)


def backtest_progress(token: str) -> dict[str, int]:
    """``done``, ``total`` splits and ``percent`` of a queued or running backtest (0 of 0: queued)."""
    path = backtest_pending_path(token)
    marker = json.loads(path.read_text()) if path.exists() else {}
    done, total = int(marker.get("done", 0)), int(marker.get("total", 0))
    return {"done": done, "total": total, "percent": round(100 * done / total) if total else 0}


def backtest_run_or_error(*, batch: Batch, alpha: float, delta: float, splits: int,
                          token: str = "") -> dict[str, Any]:
    """The backtest's result, or ``{"error": ...}`` whatever it raised: the page shows it. With
    the job's ``token``, progress is stored after every split."""
    def on_split(done: int) -> None:
        if token:
            backtest_progress_save(token=token, done=done, total=splits)

    try:
        return batch_backtest_run(batch=batch, alpha=alpha, delta=delta, splits=splits, on_split=on_split)
    except ValueError as exc:
        return {"error": str(exc)}
    except DATABASE_DOWN:
        raise  # transient: the task retries the backtest rather than storing an error
    except Exception as exc:
        log.exception("backtest of batch %r failed", batch.name)
        return {"error": f"The backtest failed ({type(exc).__name__}); run it again or check the worker's log."}


def backtests_sweep(*, stale_before: datetime) -> int:
    """End pending backtests queued before ``stale_before`` that never stored a result; returns
    how many. Idempotent: a result already stored wins, and the marker is removed either way."""
    directory = backtest_result_path("x").parent
    ended = 0
    for marker in sorted(directory.glob("*.pending")) if directory.exists() else []:
        result = marker.with_suffix(".json")
        if result.exists():
            marker.unlink(missing_ok=True)
            continue
        if datetime.fromtimestamp(marker.stat().st_mtime, tz=stale_before.tzinfo) >= stale_before:
            continue
        backtest_failure_save(token=marker.stem, error=STALLED)
        marker.unlink(missing_ok=True)
        ended += 1
    return ended
