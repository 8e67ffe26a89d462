"""Fixtures of the fault tests (tests/hybridqc/test_faults.py, test_outage.py)."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection

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
