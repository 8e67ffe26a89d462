"""Shared fixtures: a real Celery worker on Redis, headless Chromium, role users."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from playwright.sync_api import sync_playwright

from hybridqc.celery import app, queues_use
from hybridqc.queues import queue_names
from tests import factories

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session", autouse=True)
def plain_http_test_server() -> None:
    """The test servers speak plain HTTP: no redirect to HTTPS, cookies the browser keeps over HTTP.
    Set before any client or live server loads the middleware; the production defaults themselves
    are checked in a subprocess (tests/hybridqc/test_doors.py)."""
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    settings.SECURE_HSTS_SECONDS = 0


@pytest.fixture(scope="session")
def celery_queue() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def celery_worker(transactional_db: None, celery_queue: str, settings) -> Iterator[subprocess.Popen[bytes]]:
    """A real `celery worker` process on Redis, against this test run's database, consuming every
    queue (judge chunks, routing, housekeeping).

    Tests that use it must commit their data (transactional_db), since the worker is another
    process. A fresh queue prefix per session keeps stale messages of other runs away."""
    if not settings.CELERY_BROKER_URL:
        pytest.fail("the worker tests need CELERY_BROKER_URL (make test sets it)")
    queues_use(app, celery_queue)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_QUEUE_PREFIX": celery_queue,
        "SECRET_KEY": "test-only-secret",
    }
    log = open(ROOT / f"var/worker-{celery_queue}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "hybridqc", "worker", "-Q", ",".join(queue_names(celery_queue)),
         "-c", "2", "-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat",
         "-n", f"{celery_queue}@%h"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    _wait_for_worker(app, celery_queue, proc)
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    queues_use(app, settings.CELERY_QUEUE_PREFIX)


def _wait_for_worker(app, queue: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"celery worker exited with {proc.returncode}; see var/worker-{queue}.log")
        replies = app.control.ping(destination=[f"{queue}@{os.uname().nodename}"], timeout=1.0)
        if replies:
            return
    pytest.fail("celery worker did not answer a ping within 60 s")


def wait_until(predicate, timeout: float = 120, interval: float = 0.25, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value (for work done by other processes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context()
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


@pytest.fixture(autouse=True)
def _cache_per_test(settings) -> None:
    """A fresh cache key prefix per test: API throttle counters live in the shared Redis, and one
    test's (or an earlier run's) requests must not count against the next."""
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex[:12]}"}}


@pytest.fixture
def lead_user(db):
    return factories.lead()


@pytest.fixture
def admin_user(db):
    return factories.admin()


@pytest.fixture
def reviewer_user(db):
    return factories.reviewer(username="rev1", prefixes=["llmbar", "mtbench", "pandalm", "test"])


(ROOT / "var").mkdir(exist_ok=True)
assert settings.configured
