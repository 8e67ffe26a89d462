"""Every long job a lead may wait on, read from the tables that record them, as one list:
imports, judge runs, routings (a batch's pipeline status and its stored runs), retrains and
backtests, with the jobs of the apps above (lineage exports) that their callers hand in."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from routing.batches.models import Batch
from routing.decisions.models import RoutingRun
from routing.ingest.models import ImportJob
from routing.ingest.selectors import import_job_percent
from routing.judging.models import JudgeRun
from routing.scoring.models import RouterModel
from routing.training.backtest_jobs import backtest_pending_path, backtest_progress
from routing.training.models import RetrainJob

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
BUSY = (Batch.Status.IMPORTED, Batch.Status.JUDGING, Batch.Status.ROUTING)


@dataclass(frozen=True)
class JobRow:
    """One job of any kind, as the jobs list shows it. ``retry`` says whether the job's own
    Retry applies (a failed import, routing or retrain; a failed judge run whose configuration
    is still active, ``config_id``; a failed backtest that recorded its ``params``)."""

    kind: str
    pk: int
    title: str
    status: str
    percent: int | None
    reason: str
    started: datetime | None
    finished: datetime | None
    batch_id: int | None = None
    retry: bool = False
    config_id: int | None = None
    params: dict[str, Any] | None = None  # a failed backtest's form, posted again by its Retry


def _imports(limit: int) -> list[JobRow]:
    return [JobRow("import", j.pk, f"import of {j.source_name or 'an upload'} into {j.batch_name}", j.status,
                   import_job_percent(j), f"{j.error_count} problem(s) in the file" if j.status == FAILED else "",
                   j.created_at, j.finished_at, j.batch_id, retry=j.status == FAILED)
            for j in ImportJob.objects.order_by("-created_at", "-id")[:limit]]


def _judge_runs(limit: int) -> list[JobRow]:
    rows = []
    for r in JudgeRun.objects.select_related("batch", "judge_config").order_by("-started_at", "-id")[:limit]:
        percent = round(100 * (r.done + r.failed) / r.total) if r.total else (100 if r.status == DONE else 0)
        retry = r.status == FAILED and r.judge_config is not None and r.judge_config.is_active
        rows.append(JobRow("judge run", r.pk, f"judge run of {r.batch.name} ({r.backend})", r.status, percent,
                           r.last_error if r.status == FAILED else "", r.started_at, r.finished_at, r.batch_id,
                           retry=retry, config_id=r.judge_config_id))
    return rows


def _routings(limit: int) -> list[JobRow]:
    """Batches routing now or whose routing failed (with the reason), then the stored runs."""
    state: dict[str, str] = {Batch.Status.FAILED: FAILED, Batch.Status.IMPORTED: QUEUED}
    rows = [JobRow("routing", b.pk, f"routing of {b.name}", state.get(b.status, RUNNING), None,
                   b.status_detail if b.status == Batch.Status.FAILED else b.get_status_display(),
                   b.status_changed_at or b.created_at, None, b.pk, retry=b.status == Batch.Status.FAILED)
            for b in Batch.objects.filter(status__in=(*BUSY, Batch.Status.FAILED)).order_by("-id")[:limit]]
    runs = RoutingRun.objects.select_related("batch").defer("snapshot").order_by("-created_at", "-id")[:limit]
    rows += [JobRow("routing run", r.pk, f"routing of {r.batch.name}: {r.n_routed} items ({r.router_version})"
                    + (" (a revert)" if r.reverted_from_id else ""), DONE, 100, "", r.created_at, r.created_at,
                    r.batch_id) for r in runs]
    return rows


def retrain_job_latest() -> RetrainJob | None:
    return RetrainJob.objects.order_by("-created_at", "-id").first()


def _retrains(limit: int) -> list[JobRow]:
    """Retrains leads asked for (job rows), and the versions trained on schedule (no job row)."""
    jobs = list(RetrainJob.objects.order_by("-created_at", "-id")[:limit])
    rows = [JobRow("retrain", j.pk, f"retrain asked for: {f'router v{j.version}' if j.version else 'no version yet'}",
                   j.status, 100 if j.finished else None, j.error or j.summary, j.created_at, j.finished_at,
                   retry=j.status == FAILED) for j in jobs]
    asked = {j.version for j in jobs if j.version}
    models = RouterModel.objects.defer("blob", "calibration").exclude(version__in=asked).order_by("-created_at")
    rows += [JobRow("retrain", m.pk, f"scheduled retrain: router v{m.version} ({m.get_status_display()})", DONE, 100,
                    "", m.created_at, m.created_at) for m in models[:limit]]
    return rows


def _failed_backtests(directory: Path, limit: int) -> list[JobRow]:
    """Backtests that ended in an error and recorded their parameters, newest first."""
    files = sorted(directory.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    rows = []
    for path in files[:limit]:
        result = json.loads(path.read_text())
        if "error" not in result or not result.get("params"):
            continue
        at = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
        rows.append(JobRow("backtest", 0, f"backtest {path.stem[:8]}", FAILED, None, result["error"], at, at,
                           result["params"].get("batch"), retry=True, params=result["params"]))
    return rows


def _backtests(limit: int) -> list[JobRow]:
    """Backtests a worker has not finished (their pending marker holds the splits done), then
    the failed ones."""
    directory = backtest_pending_path("x").parent
    rows = []
    for marker in sorted(directory.glob("*.pending")) if directory.exists() else []:
        if marker.with_suffix(".json").exists():
            continue  # finished: the sweeper removes its marker
        progress = backtest_progress(marker.stem)
        rows.append(JobRow("backtest", 0, f"backtest {marker.stem[:8]}: {progress['done']} of {progress['total']} "
                           "splits", RUNNING if progress["total"] else QUEUED, progress["percent"], "",
                           datetime.fromtimestamp(marker.stat().st_ctime, tz=UTC), None))
    return rows + (_failed_backtests(directory, limit) if directory.exists() else [])


def jobs_recent(limit: int = 50, others: Sequence[JobRow] = ()) -> list[JobRow]:
    """Running jobs first, then the most recent of every kind, newest first. ``others`` are the
    jobs of the apps above (lineage exports), which hand their rows in."""
    rows = [*_imports(limit), *_judge_runs(limit), *_routings(limit), *_retrains(limit), *_backtests(limit), *others]
    rows.sort(key=lambda r: (r.status not in (QUEUED, RUNNING), -(r.started.timestamp() if r.started else 0)))
    return rows[:limit]
