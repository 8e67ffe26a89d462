"""Fuzzing with hypothesis: malformed import lines through the real import service, and malformed
files and label payloads over real HTTP to the API views. Nothing may raise anything but a
validation error (no 5xx), and a refused request writes nothing."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewers.models import HumanLabel, ReviewTask
from reviewers.services import review_task_claim
from routing.batches.models import Batch, Example
from routing.ingest.import_v1 import ImportValidationError, batch_import
from routing.ingest.import_validation import parse_lines
from tests import factories
from tests.factories import make_tasks
from tests.support.figures import figures_write
from tests.support.fuzz import FILES, LABEL_PAYLOADS

pytestmark = pytest.mark.django_db
IMPORT_FILES = 2_400  # about 10,500 lines (1-8 per file)
HTTP_IMPORTS = 250
HTTP_LABELS = 200
FIGURES: dict[str, int] = {"lines": 0, "refused": 0, "stored": 0, "server_errors": 0, "partial_writes": 0,
                           "http_cases": 0}


class Rollback(Exception):
    """Undo an accepted import: the fuzz checks that it stores, not what it stored."""


def _import_case(lines: list) -> None:
    FIGURES["lines"] += len(lines)
    before = Example.objects.count()
    try:
        parse_lines(lines)
    except ImportValidationError:
        FIGURES["refused"] += 1
        FIGURES["partial_writes"] += Example.objects.count() != before
        return
    try:
        with transaction.atomic():
            batch_import(batch_name=f"fuzz-{uuid.uuid4().hex[:12]}", lines=lines)
            FIGURES["stored"] += 1
            raise Rollback
    except Rollback:
        pass


@settings(max_examples=IMPORT_FILES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(lines=FILES)
def test_fuzz_import_lines_never_crash_the_import_service(lines):
    try:
        _import_case(lines)
    except Exception:
        FIGURES["server_errors"] += 1
        raise


@pytest.fixture
def http_lead(live_server, transactional_db):
    """An httpx client logged in as a lead over real HTTP, with the CSRF token DRF checks."""
    lead = factories.lead()
    client = httpx.Client(base_url=live_server.url, timeout=30)
    login = client.get("/accounts/login/")
    token = client.cookies["csrftoken"]
    client.post("/accounts/login/", data={"username": lead.username, "password": factories.PASSWORD,
                                          "csrfmiddlewaretoken": token}, headers={"Referer": str(login.url)})
    client.headers["X-CSRFToken"] = client.cookies["csrftoken"]
    yield client
    client.close()


def _posted_import(client: httpx.Client, name: str, lines: list) -> int:
    body = b"\n".join(line if isinstance(line, bytes) else line.encode("utf-8", "surrogatepass") for line in lines)
    response = client.post("/api/control/batches/", data={"name": name}, files={"file": ("f.jsonl", body)})
    return response.status_code


def test_fuzz_import_api_over_http_answers_4xx_and_writes_nothing(http_lead):
    data = st.tuples(st.text(min_size=1, max_size=40) | st.just(""), FILES)
    statuses: list[int] = []
    failures: list[str] = []

    @settings(max_examples=HTTP_IMPORTS, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large])
    @given(case=data)
    def post(case):
        name, lines = case
        name = f"{name[:30]}-{uuid.uuid4().hex[:6]}" if name else ""
        before = Example.objects.count()
        status = _posted_import(http_lead, name, lines)
        statuses.append(status)
        if status >= 500:
            FIGURES["server_errors"] += 1
            failures.append(repr(case)[:300])
        # A name PostgreSQL cannot hold (NUL) cannot have been stored either.
        storable = bool(name) and "\x00" not in name
        written = Example.objects.count() != before or (storable and Batch.objects.filter(name=name).exists())
        if status >= 400 and written:
            FIGURES["partial_writes"] += 1

    post()
    FIGURES["http_cases"] += len(statuses)
    assert failures == []


@pytest.fixture
def http_reviewer(live_server, transactional_db):
    reviewer = factories.reviewer("fuzz-rev", prefixes=["test"]).reviewer
    make_tasks(HTTP_LABELS + 5, name="fuzz-labels")
    client = httpx.Client(base_url=live_server.url, timeout=30)
    login = client.get("/accounts/login/")
    client.post("/accounts/login/", data={"username": "fuzz-rev", "password": factories.PASSWORD,
                                          "csrfmiddlewaretoken": client.cookies["csrftoken"]},
                headers={"Referer": str(login.url)})
    client.headers["X-CSRFToken"] = client.cookies["csrftoken"]
    yield client, reviewer
    client.close()


def test_fuzz_label_api_over_http_answers_4xx_and_stores_only_on_201(http_reviewer):
    client, reviewer = http_reviewer
    statuses: list[int] = []

    @settings(max_examples=HTTP_LABELS, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(payload=LABEL_PAYLOADS)
    def post(payload):
        task = review_task_claim(reviewer=reviewer)
        assert task is not None
        # Sent as bytes: lone surrogates and NaN go out as they are, invalid UTF-8 and JSON included.
        body = json.dumps(payload, allow_nan=True).encode("utf-8", "surrogatepass")
        response = client.post(f"/api/review/tasks/{task.public_id}/submit/", content=body,
                               headers={"Content-Type": "application/json"})
        statuses.append(response.status_code)
        stored = HumanLabel.objects.filter(task_id=task.pk).count()
        if response.status_code >= 500:
            FIGURES["server_errors"] += 1
        if response.status_code != 201 and stored:
            FIGURES["partial_writes"] += 1
        if response.status_code == 201 and ReviewTask.objects.get(pk=task.pk).status != "done":
            FIGURES["partial_writes"] += 1

    post()
    FIGURES["http_cases"] += len(statuses)
    assert [s for s in statuses if s >= 500] == []


def test_fuzz_figures_are_written(transactional_db):
    """Last in the file (transactional, so pytest-django runs it after the HTTP tests): the figures
    of the three fuzz tests above, as run in this session."""
    if not (FIGURES["lines"] and FIGURES["http_cases"]):
        pytest.skip("run with the fuzz tests above (the whole file)")
    cases = FIGURES["lines"] + FIGURES["http_cases"]
    figures_write("fuzz", {
        "fuzz_cases": cases, "fuzz_import_lines": FIGURES["lines"], "fuzz_import_files_refused": FIGURES["refused"],
        "fuzz_import_files_stored": FIGURES["stored"], "fuzz_http_cases": FIGURES["http_cases"],
        "fuzz_server_errors": FIGURES["server_errors"], "fuzz_partial_writes": FIGURES["partial_writes"]})
    assert (FIGURES["server_errors"], FIGURES["partial_writes"]) == (0, 0)
    assert cases >= 10_000
