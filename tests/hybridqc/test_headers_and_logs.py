"""Headers built with Django's helpers and log lines nobody can forge through a batch name."""

from __future__ import annotations

import logging
import sys

import pytest
from django.test import Client
from django.urls import reverse

from hybridqc.flows.batches import batch_route
from hybridqc.logformat import SingleLineFormatter
from hybridqc.parsers import NOT_STORABLE
from reviewers.services import review_task_claim
from tests import factories

EVIL = 'evil"\r\nINFO routing: forged line; filename="x.sh'


def _formatted(caplog) -> list[str]:
    formatter = SingleLineFormatter("%(levelname)s %(name)s: %(message)s")
    return [formatter.format(r) for r in caplog.records]


@pytest.mark.django_db
def test_batch_export_filename_with_quotes_and_newlines_is_encoded(lead_user):
    batch = factories.batch(EVIL).batch
    client = Client()
    client.force_login(lead_user)
    header = client.get(reverse("dashboard:export", args=[batch.pk])).headers["Content-Disposition"]
    assert header == ("attachment; filename*=utf-8''evil%22%0D%0AINFO%20routing%3A%20forged%20line%3B%20"
                      "filename%3D%22x.sh-labels.jsonl")


@pytest.mark.django_db
def test_batch_name_cannot_forge_a_log_line(caplog):
    batch = factories.batch(EVIL).batch
    with caplog.at_level(logging.INFO, logger="hybridqc.flows.batches"):
        batch_route(batch=batch)
    lines = _formatted(caplog)
    assert len(lines) == 1
    assert "\n" not in lines[0] and "\r" not in lines[0]
    assert lines[0].startswith("INFO hybridqc.flows.batches: batch 'evil\"\\r\\nINFO routing: forged line;")


def test_single_line_formatter_keeps_traceback_lines():
    formatter = SingleLineFormatter("%(message)s")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "a\nb %s", ("c\nd",), exc_info=sys.exc_info())
    text = formatter.format(record)
    assert text.startswith("a\\nb c\\nd\nTraceback (most recent call last):")
    assert text.endswith("ValueError: boom")


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "detail"), [
    (b'{"choice": "\\ud800"}', NOT_STORABLE),
    (b'{"rationale": "a\\u0000b"}', NOT_STORABLE),
    (b"[" * 100_000 + b"]" * 100_000, "JSON parse error - nested too deeply"),
])
def test_api_json_that_cannot_be_carried_is_a_400(body, detail):
    reviewer = factories.reviewer("json-rev").reviewer
    factories.make_tasks(1)
    task = review_task_claim(reviewer=reviewer)
    client = Client()
    client.force_login(reviewer.user)
    response = client.post(f"/api/review/tasks/{task.public_id}/submit/", body, content_type="application/json")
    assert (response.status_code, response.json()) == (400, {"detail": detail})
