"""Celery queues and time limits, as plain values (read by settings before Django is set up).

Four queues, each with its own workers (`make serve`): judge chunks run for minutes, so review
lease expiry and routing must never wait behind them, and a lineage export of a large batch
must not hold up routing either. A prefix names the set, so that test
sessions and benchmark runs on one broker never take each other's messages.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

JUDGE, ROUTING, HOUSEKEEPING, EXPORT = "judge", "routing", "housekeeping", "export"
KINDS = (JUDGE, ROUTING, HOUSEKEEPING, EXPORT)
# Every task by name; a task not listed goes to the default queue (routing).
TASK_KINDS = {
    "routing.tasks.judge_chunk": JUDGE,
    "routing.tasks.judge_verdict": JUDGE,
    "hybridqc.flows.tasks.batch_pipeline_run": ROUTING,
    "routing.tasks.router_retrain": ROUTING,
    "routing.tasks.router_retrain_check": ROUTING,
    "routing.tasks.batch_backtest": ROUTING,
    "routing.tasks.batch_input_drift_run": ROUTING,
    "routing.tasks.example_search_index": HOUSEKEEPING,
    "routing.tasks.example_search_backfill": HOUSEKEEPING,
    "reviewers.tasks.review_leases_expire": HOUSEKEEPING,
    "housekeeping.sweep": HOUSEKEEPING,
    "dashboard.tasks.batch_gate_check": ROUTING,
    "dashboard.tasks.webhook_deliver": HOUSEKEEPING,
    "dashboard.tasks.alarms_check": HOUSEKEEPING,
    "hybridqc.flows.tasks.import_job_run": ROUTING,
    "dashboard.tasks.export_job_run": EXPORT,
}


def queue_name(prefix: str, kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown queue kind {kind!r}; one of {', '.join(KINDS)}")
    return f"{prefix}-{kind}"


def queue_names(prefix: str) -> list[str]:
    return [queue_name(prefix, kind) for kind in KINDS]


def task_routes(prefix: str) -> dict[str, dict[str, str]]:
    return {task: {"queue": queue_name(prefix, kind)} for task, kind in TASK_KINDS.items()}


def time_limits_check(limits: dict[str, tuple[int, int]], *, visibility_timeout: int) -> None:
    """Refuse time limits (soft, hard) a task could outlive its broker lease with: with acks_late,
    Redis hands a message still running after ``visibility_timeout`` to a second worker, which
    pays the provider for the same chunk again."""
    for name, (soft, hard) in limits.items():
        if not 0 < soft < hard:
            raise ImproperlyConfigured(f"{name}: the soft time limit ({soft} s) must be above 0 and below "
                                       f"the hard time limit ({hard} s)")
        if hard >= visibility_timeout:
            raise ImproperlyConfigured(f"{name}: the hard time limit ({hard} s) must be below the broker's "
                                       f"visibility timeout (CELERY_VISIBILITY_TIMEOUT, {visibility_timeout} s)")
