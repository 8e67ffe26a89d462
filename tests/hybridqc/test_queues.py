"""Celery delivery: each task on its queue (judge chunks, routing, housekeeping), and time limits
that a settings check keeps below the broker's visibility timeout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery import Celery
from django.core.exceptions import ImproperlyConfigured

from hybridqc import queues
from hybridqc.celery import app, queues_use
from hybridqc.queueing import DATABASE_DOWN

ROOT = Path(__file__).resolve().parent.parent.parent
EXPECTED = {
    "routing.tasks.judge_chunk": "t-judge",
    "routing.tasks.judge_verdict": "t-judge",
    "hybridqc.flows.tasks.batch_pipeline_run": "t-routing",
    "routing.tasks.router_retrain": "t-routing",
    "routing.tasks.router_retrain_check": "t-routing",
    "routing.tasks.batch_backtest": "t-routing",
    "reviewers.tasks.review_leases_expire": "t-housekeeping",
    "routing.tasks.example_search_index": "t-housekeeping",
    "routing.tasks.example_search_backfill": "t-housekeeping",
    "dashboard.tasks.export_job_run": "t-export",
}


@pytest.fixture
def prefix_t(settings):
    queues_use(app, "u")
    assert _queue_of("routing.tasks.judge_chunk") == "u-judge"  # the router is built and cached...
    queues_use(app, "t")  # ...and a new prefix still reaches it
    yield
    queues_use(app, settings.CELERY_QUEUE_PREFIX)


def _queue_of(task: str) -> str:
    return app.amqp.router.route({}, task, (), {})["queue"].name


def test_queues_route_each_task_to_its_queue(prefix_t):
    assert {task: _queue_of(task) for task in EXPECTED} == EXPECTED
    assert _queue_of("some.unlisted.task") == "t-routing"


def test_queues_list_every_project_task():
    """A new task must choose its queue: nothing of ours lands on the default by accident."""
    app.loader.import_default_modules()
    mine = ("routing", "reviewers", "dashboard", "hybridqc", "housekeeping")
    ours = {name for name in app.tasks if name.split(".")[0] in mine}
    assert ours == set(queues.TASK_KINDS)


def test_queues_settings_put_judge_chunks_on_the_judge_queue(settings):
    assert settings.CELERY_TASK_ROUTES["routing.tasks.judge_chunk"] == {"queue": "hybridqc-judge"}
    assert settings.CELERY_TASK_DEFAULT_QUEUE == "hybridqc-routing"
    assert queues.queue_names("p") == ["p-judge", "p-routing", "p-housekeeping", "p-export"]


def test_queues_default_time_limits_stay_below_visibility_timeout(settings):
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS == {"visibility_timeout": 3600}
    assert (settings.CELERY_TASK_SOFT_TIME_LIMIT, settings.CELERY_TASK_TIME_LIMIT) == (600, 660)
    judge = app.tasks["routing.tasks.judge_chunk"]
    assert (judge.soft_time_limit, judge.time_limit) == (1800, 1920)


@pytest.mark.parametrize(("limits", "message"), [
    ({"X": (100, 3600)}, r"X: the hard time limit \(3600 s\) must be below the broker.s visibility timeout"),
    ({"X": (200, 100)}, r"X: the soft time limit \(200 s\) must be above 0 and below the hard time limit"),
    ({"X": (0, 100)}, r"X: the soft time limit \(0 s\) must be above 0"),
])
def test_queues_time_limits_check_refuses(limits, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        queues.time_limits_check(limits, visibility_timeout=3600)


def test_queues_time_limits_check_accepts_limits_below_the_lease():
    queues.time_limits_check({"X": (1800, 3599)}, visibility_timeout=3600)


def test_queues_settings_refuse_to_load_with_a_lease_shorter_than_a_chunk():
    env = {**os.environ, "CELERY_VISIBILITY_TIMEOUT": "1000", "DJANGO_SETTINGS_MODULE": "hybridqc.settings"}
    proc = subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert ("JUDGE_CHUNK_SOFT_TIME_LIMIT/JUDGE_CHUNK_TIME_LIMIT: the hard time limit (1920 s) must be below the "
            "broker's visibility timeout (CELERY_VISIBILITY_TIMEOUT, 1000 s)") in proc.stderr


def _policy_problems(task, *, default_time_limit: int | None, visibility_timeout: int) -> list[str]:
    """What a task lacks of the delivery policy: redelivered only when done (acks_late, and again
    when its worker dies), a hard time limit below the broker's visibility timeout, retries with
    backoff for the database being unreachable and for nothing else, and a queue of its own kind."""
    problems = []
    if not (task.acks_late and task.reject_on_worker_lost):
        problems.append("acks_late and reject_on_worker_lost")
    hard = task.time_limit or default_time_limit
    if hard is None or hard >= visibility_timeout:
        problems.append(f"hard time limit {hard} below the visibility timeout {visibility_timeout}")
    if set(getattr(task, "autoretry_for", ())) != set(DATABASE_DOWN) or not getattr(task, "retry_backoff", False):
        problems.append("autoretry_for DATABASE_DOWN with backoff")
    if task.max_retries is None and getattr(task, "retry_kwargs", {}).get("max_retries") is None:
        problems.append("a bound on the database retries")
    if task.name not in queues.TASK_KINDS:
        problems.append("a queue in hybridqc/queues.py TASK_KINDS")
    return problems


def test_queues_every_registered_task_has_the_delivery_and_retry_policy(settings, prefix_t):
    """Every task of ours touches the database: a new one that forgets any part of the policy fails here."""
    app.loader.import_default_modules()
    ours = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert len(ours) == len(queues.TASK_KINDS) == 16
    problems = {name: _policy_problems(task, default_time_limit=settings.CELERY_TASK_TIME_LIMIT,
                                       visibility_timeout=settings.CELERY_VISIBILITY_TIMEOUT)
                for name, task in ours.items()}
    assert {name: p for name, p in problems.items() if p} == {}
    assert {name: _queue_of(name) for name in ours} == {
        name: queues.queue_name("t", kind) for name, kind in queues.TASK_KINDS.items()}


def test_queues_policy_check_names_what_a_bare_task_lacks():
    probe = Celery("probe")

    @probe.task(name="probe.bare", acks_late=False, time_limit=3600)
    def bare() -> None:
        """A task written without the policy."""

    assert _policy_problems(probe.tasks["probe.bare"], default_time_limit=None, visibility_timeout=3600) == [
        "acks_late and reject_on_worker_lost", "hard time limit 3600 below the visibility timeout 3600",
        "autoretry_for DATABASE_DOWN with backoff", "a queue in hybridqc/queues.py TASK_KINDS"]
