"""What a preference file leaves out is counted before streaming by the writer's own rule: the
streamed response's header, the export job's, the rows missing from the file and the
``export_batch`` summary agree, on a batch counted by hand."""

import json

import pytest
from django.core.management import call_command

from dashboard.export_jobs import export_job_create, export_job_execute, left_out_header
from dashboard.export_left_out import left_out_counts, preference_left_out
from routing.batches.models import Example
from tests import factories
from tests.dashboard.trend_batches import dated_batch, label

RATING = {"task": "rating", "responses": ["Rated"], "scale": {"min": 1, "max": 10},
          "judgments": [{"judge": "judge-x", "rating": 7}], "human_labels": []}
# Both orders say tie: the judge keeps it, and its verdict (0) is the label.
JUDGE_TIE = {"judgments": [{"judge": "judge-x", "order": "ab", "choice": 0},
                           {"judge": "judge-x", "order": "ba", "choice": 0}]}
# By hand, per item: 0-5 kept (0-2 audited, labels 0, 1, 0), 6-10 routed (labels 0, 2, 0, 1,
# none), 11 a rating, 12 the judge's tie; then item-7 gets a second, disagreeing vote (no
# majority: no label) and item-9 an adjudication to tie.
TIES = ["item-0", "item-2", "item-6", "item-8", "item-9", "item-12"]
UNLABELED = ["item-7", "item-10"]
PAIRS = ["item-1", "item-3", "item-4", "item-5"]
HEADER = "not_pairwise=1, ties=6, unlabeled=2"


@pytest.fixture
def ties(db, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    batch = dated_batch("ties", "2026-11-02", kept=6, unsure=5, audit_labels=[0, 1, 0], routed_labels=[0, 2, 0, 1],
                        extra=[RATING, JUDGE_TIE])
    examples = {e.external_id: e for e in Example.objects.filter(batch=batch)}
    label(examples["item-7"], 1, "second")
    label(examples["item-9"], 0, "adjudication")
    return batch


def test_preference_left_out_rule():
    assert [preference_left_out(task, label) for task, label in (
        ("rating", 7.0), ("pairwise", None), ("pairwise", 0.0), ("pairwise", 1.0), ("pairwise", 2.0))] == [
        "not_pairwise", "unlabeled", "ties", None, None]


def test_left_out_counts_is_one_query(ties, django_assert_num_queries):
    with django_assert_num_queries(1):
        counts = left_out_counts(ties)
    assert counts == {"ties": 6, "unlabeled": 2, "not_pairwise": 1}


def test_streamed_preference_header_equals_the_jobs_the_file_and_export_batch(ties, client, tmp_path, capsys):
    client.force_login(factories.lead())
    streamed = client.get("/api/control/batches/ties/export/?fmt=preference&confirm=1")
    # The header is there before a byte of the body is read.
    assert (streamed.status_code, streamed["X-HybridQC-Left-Out"]) == (200, HEADER)
    body = b"".join(streamed.streaming_content).decode()
    assert [json.loads(line)["id"] for line in body.splitlines()] == PAIRS
    missing = {e.external_id for e in Example.objects.filter(batch=ties)} - set(PAIRS)
    assert missing == {*TIES, *UNLABELED, "item-11"} and len(missing) == 9
    job = export_job_execute(job_id=export_job_create(batch=ties, fmt="preference", user=None, confirmed=True).pk)
    assert (job.status, job.rows_written, left_out_header(job)) == ("done", 4, HEADER)
    page = client.get(f"/control/batch/{ties.pk}/export/?fmt=preference&confirm=1")
    assert page["X-HybridQC-Left-Out"] == HEADER
    call_command("export_batch", "ties", "--format", "preference", "--confirm-unreleased",
                 "-o", str(tmp_path / "out.jsonl"))
    assert capsys.readouterr().err.strip() == f"4 rows, left out: {HEADER}, NOT released"
    assert (tmp_path / "out.jsonl").read_text() == body
