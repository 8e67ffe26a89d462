"""Fixtures of the fault tests: a private PostgreSQL cluster, and the retries of tasks run in-process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from celery.signals import task_retry
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from hybridqc.celery import app
from tests.support import processes


@pytest.fixture
def private_postgres(transactional_db):
    """This test's database on a private PostgreSQL cluster (the shared server is never stopped):
    the test process and every process it spawns (via processes.test_db_url) use it."""
    cluster = processes.PostgresCluster()
    cluster.start()
    cluster.createdb("hybridqc")
    processes.migrate(cluster.url("hybridqc"))
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(NAME="hybridqc", HOST="127.0.0.1", PORT=str(cluster.port), USER="postgres",
                                    PASSWORD="")
    ContentType.objects.clear_cache()  # ids from the other database
    yield cluster
    connection.close()
    connection.settings_dict.update(saved)
    ContentType.objects.clear_cache()
    cluster.remove()


@pytest.fixture
def eager_retries() -> Iterator[list[str]]:
    """The cause of every retry of a task applied in-process ("OperationalError: <first line>"). A
    retry runs at once there; not propagating lets the last attempt end as a failed result."""
    causes: list[str] = []

    def on_retry(sender, reason, **kwargs) -> None:
        causes.append(f"{type(reason.exc).__name__}: {str(reason.exc).splitlines()[0]}")  # reason: celery's Retry

    task_retry.connect(on_retry)
    app.conf.task_eager_propagates = False
    yield causes
    task_retry.disconnect(on_retry)
    app.conf.task_eager_propagates = True
