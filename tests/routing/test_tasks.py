"""routing's tasks live with their packages but keep the names queued messages, routes and beat use."""

from __future__ import annotations

from hybridqc import queues
from hybridqc.celery import app


def test_tasks_every_routed_name_is_a_registered_task():
    app.loader.import_default_modules()
    routed = {name for name in queues.TASK_KINDS if name.startswith("routing.")}
    assert len(routed) == 8
    assert routed - set(app.tasks) == set()


def test_tasks_each_task_runs_from_its_package():
    app.loader.import_default_modules()
    modules = {name: app.tasks[name].run.__module__ for name in queues.TASK_KINDS if name.startswith("routing.")}
    assert modules == {
        "routing.tasks.judge_chunk": "routing.judging.tasks",
        "routing.tasks.judge_verdict": "routing.judging.tasks",
        "routing.tasks.router_retrain": "routing.training.tasks",
        "routing.tasks.router_retrain_check": "routing.training.tasks",
        "routing.tasks.batch_backtest": "routing.training.tasks",
        "routing.tasks.batch_input_drift_run": "routing.monitoring.tasks",
        "routing.tasks.example_search_index": "routing.batches.tasks",
        "routing.tasks.example_search_backfill": "routing.batches.tasks",
    }
