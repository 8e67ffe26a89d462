"""Lineage exports as background jobs: the file is the synchronous export exactly, progress
reaches the rows total, what preference pairs leave out is on the download, a failure keeps its
reason and Retry runs it again; the page, the API and the jobs list."""

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.db import OperationalError
from django.utils import timezone
from django.utils.html import escape

from dashboard.export_jobs import SWEPT, export_job_create, export_job_execute, export_job_retry
from dashboard.housekeeping import stalled_work_sweep
from dashboard.models import ExportJob
from hybridqc.celery import app as celery_app
from routing.decisions.models import RoutingDecision
from tests import factories
from tests.dashboard.test_export import released  # noqa: F401 - the fixture: 8 examples, one tie
from tests.dashboard.trend_batches import dated_batch
from tests.support.locks import lock_held


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def eager_tasks():
    # Queued tasks run in this process when the transaction's callbacks run (no worker here).
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def _synchronous(client, batch, fmt):
    response = client.get(f"/control/batch/{batch.pk}/export/?fmt={fmt}")
    assert response.status_code == 200
    return b"".join(response.streaming_content)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "preference"])
def test_export_job_file_is_the_synchronous_export_exactly(released, media, client, fmt):  # noqa: F811
    client.force_login(factories.lead())
    job = export_job_create(batch=released, fmt=fmt, user=None, confirmed=False)
    job = export_job_execute(job_id=job.pk)
    assert job.status == "done"
    with job.file.open("rb") as fh:
        assert fh.read() == _synchronous(client, released, fmt)
    assert (job.rows_done, job.rows_total, job.rows_written) == (8, 8, 7 if fmt == "preference" else 8)
    assert job.left_out == ({"ties": 1} if fmt == "preference" else {})
    assert export_job_execute(job_id=job.pk) is None  # a redelivery of a finished job does nothing


def test_export_job_download_says_released_and_left_out_ties(released, media, client):  # noqa: F811
    job = export_job_execute(job_id=export_job_create(batch=released, fmt="preference", user=None,
                                                      confirmed=False).pk)
    client.force_login(factories.lead())
    response = client.get(f"/control/exports/{job.pk}/download/")
    assert response.status_code == 200
    assert (response["X-HybridQC-Released"], response["X-HybridQC-Left-Out"]) == ("true", "ties=1")
    assert response["Content-Disposition"] == 'attachment; filename="exp-lineage.preference.jsonl"'
    assert b"".join(response.streaming_content).count(b"\n") == 7
    assert client.get(f"/control/exports/{job.pk}/download/").status_code == 200


def test_export_job_that_fails_keeps_its_reason_and_retry_runs_it_again(released, media, settings, client,  # noqa: F811
                                                                        eager_tasks,
                                                                        django_capture_on_commit_callbacks):
    blocker = media.parent / "not-a-directory"
    blocker.write_text("")
    settings.MEDIA_ROOT = str(blocker)  # the storage cannot create its folder: the write fails
    job = export_job_execute(job_id=export_job_create(batch=released, fmt="jsonl", user=None, confirmed=False).pk)
    assert job.status == "failed"
    assert job.error.startswith("the export stopped: NotADirectoryError: ")
    client.force_login(factories.lead())
    listing = client.get("/control/jobs/").content.decode()
    assert f'action="/control/exports/{job.pk}/retry/"' in listing and escape(job.error) in listing
    settings.MEDIA_ROOT = str(media)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/control/exports/{job.pk}/retry/")
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.error, job.attempts, job.rows_done) == ("done", "", 2, 8)
    assert default_storage.exists(job.file.name)
    assert client.post(f"/control/exports/{job.pk}/retry/", headers={"HX-Request": "true"}).status_code == 409


def test_export_job_of_a_gate_that_closed_fails_unless_confirmed(db, media):
    held = dated_batch("held", "2026-11-02", kept=2, unsure=1, audit_labels=[], routed_labels=[])
    job = export_job_execute(job_id=export_job_create(batch=held, fmt="jsonl", user=None, confirmed=False).pk)
    assert job.status == "failed" and job.error.startswith("the release gate holds now (")
    confirmed = export_job_execute(job_id=export_job_create(batch=held, fmt="jsonl", user=None, confirmed=True).pk)
    assert (confirmed.status, confirmed.released, confirmed.rows_done) == ("done", False, 3)


def test_export_job_page_starts_polls_and_links_the_download(released, media, client, eager_tasks,  # noqa: F811
                                                             django_capture_on_commit_callbacks):
    client.force_login(factories.lead())
    page = client.get(f"/control/batch/{released.pk}/").content.decode()
    assert f'hx-post="/control/batch/{released.pk}/export/jobs/"' in page and 'id="export-card"' in page
    job = export_job_create(batch=released, fmt="csv", user=None, confirmed=False)
    running = client.get(f"/control/exports/{job.pk}/", headers={"HX-Request": "true"}).content.decode()
    assert f'hx-get="/control/exports/{job.pk}/" hx-trigger="every 1s"' in running
    assert "disabled" in running and "<progress" in running
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(f"/control/batch/{released.pk}/export/jobs/", {"fmt": "parquet"},
                              headers={"HX-Request": "true"})
    assert started.status_code == 202
    done = ExportJob.objects.filter(fmt="parquet").get()
    assert (done.status, done.rows_done, done.rows_total) == ("done", 8, 8)
    card = client.get(f"/control/exports/{done.pk}/", headers={"HX-Request": "true"}).content.decode()
    assert f'href="/control/exports/{done.pk}/download/"' in card and "hx-trigger" not in card
    assert client.post(f"/control/batch/{released.pk}/export/jobs/", {"fmt": "xml"}).status_code == 422


def test_export_job_start_asks_for_confirmation_when_the_gate_holds(db, media, client):
    held = dated_batch("held", "2026-11-02", kept=2, unsure=1, audit_labels=[], routed_labels=[])
    client.force_login(factories.lead())
    asked = client.post(f"/control/batch/{held.pk}/export/jobs/", {"fmt": "jsonl"})
    assert asked.status_code == 409 and "The release gate holds" in asked.content.decode()
    assert not ExportJob.objects.exists()
    confirmed = client.post(f"/control/batch/{held.pk}/export/jobs/", {"fmt": "jsonl", "confirm": "1"})
    job = ExportJob.objects.get()
    assert (confirmed.status_code, confirmed["Location"], job.confirmed) == (302, f"/control/exports/{job.pk}/", True)


def test_export_job_api_starts_a_job_and_its_download_says_what_was_left_out(released, media, client, eager_tasks,  # noqa: F811
                                                                             django_capture_on_commit_callbacks):
    client.force_login(factories.lead())
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post("/api/control/batches/exp/export/?fmt=preference")
    assert started.status_code == 202
    job = ExportJob.objects.get()
    assert started["Location"] == f"http://testserver/api/control/exports/{job.pk}/"
    body = client.get(started["Location"]).json()
    assert (body["status"], body["rows_done"], body["rows_total"], body["left_out"]) == ("done", 8, 8, {"ties": 1})
    download = client.get(body["download"])
    assert (download.status_code, download["X-HybridQC-Left-Out"]) == (200, "ties=1")
    assert client.get("/api/control/batches/exp/export/?fmt=csv")["X-HybridQC-Left-Out"] == "none"
    assert client.get("/api/control/batches/exp/export/?fmt=preference")["X-HybridQC-Left-Out"] == "ties=1"
    dated_batch("held", "2026-11-02", kept=2, unsure=1, audit_labels=[], routed_labels=[])
    assert client.post("/api/control/batches/held/export/").status_code == 409


def test_export_jobs_no_worker_finished_are_swept_to_failed_and_retry_clears_them(released, media, settings):  # noqa: F811
    settings.SWEEP_STALE_SECONDS, settings.EXPORT_JOB_TIME_LIMIT = 900, 1920
    now = timezone.now()
    lost = export_job_create(batch=released, fmt="jsonl", user=None, confirmed=False)
    fresh = export_job_create(batch=released, fmt="csv", user=None, confirmed=False)
    stopped = export_job_create(batch=released, fmt="parquet", user=None, confirmed=False)
    alive = export_job_create(batch=released, fmt="preference", user=None, confirmed=False)
    ExportJob.objects.filter(pk=lost.pk).update(queued_at=now - timedelta(seconds=901))
    ExportJob.objects.filter(pk=stopped.pk).update(status="running", started_at=now - timedelta(seconds=2821))
    # Running for less than the hard limit plus the stale interval: maybe still writing.
    ExportJob.objects.filter(pk=alive.pk).update(status="running", started_at=now - timedelta(seconds=2819))
    assert stalled_work_sweep(now=now)["exports_failed"] == 2
    statuses = dict(ExportJob.objects.values_list("pk", "status"))
    assert statuses == {lost.pk: "failed", fresh.pk: "queued", stopped.pk: "failed", alive.pk: "running"}
    lost.refresh_from_db()
    assert lost.error == SWEPT
    assert export_job_retry(job=lost)
    assert stalled_work_sweep(now=timezone.now())["exports_failed"] == 0
    assert export_job_execute(job_id=lost.pk).status == "done"


def test_export_job_database_error_is_raised_for_the_retry_which_takes_the_job_back(released, media,  # noqa: F811
                                                                                     transactional_db):
    job = export_job_create(batch=released, fmt="jsonl", user=None, confirmed=False)
    table = RoutingDecision._meta.db_table
    with lock_held(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"), pytest.raises(OperationalError):
        export_job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.error) == ("running", "")  # not stored as a failure: the task retries
    assert export_job_execute(job_id=job.pk) is None  # another delivery leaves a running job alone
    job = export_job_execute(job_id=job.pk, retrying=True)
    assert (job.status, job.rows_written, job.attempts) == ("done", 8, 2)
