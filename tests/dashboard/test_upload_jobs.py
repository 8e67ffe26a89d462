"""Large uploads as background jobs: 202 and a job to poll (API), a progress block (page), retry."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from routing.batches.models import Batch, Example
from routing.ingest.models import ImportJob
from tests import factories
from tests.conftest import wait_until


@pytest.fixture(autouse=True)
def _everything_in_the_background(settings):
    settings.IMPORT_BACKGROUND_BYTES = 0


def _file(items, name="big.jsonl"):
    return SimpleUploadedFile(name, ("\n".join(factories.jsonl(items)) + "\n").encode())


def _good(n=3):
    return _file([factories.pairwise_item(i) for i in range(n)])


def _bad():
    return _file([factories.pairwise_item(0), factories.pairwise_item(1, task="ranking")])


def _login(client, user):
    client.login(username=user.username, password=factories.PASSWORD)


def _form(client, upload, name="up", **headers):
    fields = {"name": name, "file": upload, "confidence_threshold": 0.8, "audit_rate": 0.1,
              "routing_mode": "threshold"}
    return client.post("/control/upload/", fields, **headers)


def _finished(client, url):
    return wait_until(lambda: (body := client.get(url).json())["finished"] and body, timeout=60, what="import job")


def test_api_import_large_file_answers_202_and_the_worker_imports_it(client, lead_user, celery_worker):
    _login(client, lead_user)
    response = client.post("/api/control/batches/", {"name": "bg", "file": _good(3), "audit_rate": 0.2})
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["phase"], body["percent"]) == ("queued", "queued", 0)
    assert response["Location"] == body["url"] == f"http://testserver/api/control/imports/{body['id']}/"
    done = _finished(client, body["url"])
    batch = Batch.objects.get(name="bg")
    assert (done["status"], done["percent"], done["examples_written"], done["judgments_written"],
            done["labels_written"], done["batch_id"]) == ("done", 100, 3, 6, 3, batch.pk)
    assert (batch.audit_rate, batch.examples.count()) == (0.2, 3)


def test_api_import_bad_large_file_fails_with_line_and_field_then_retries(client, lead_user, celery_worker):
    _login(client, lead_user)
    body = client.post("/api/control/batches/", {"name": "bad", "file": _bad()}).json()
    failed = _finished(client, body["url"])
    assert (failed["status"], failed["error_count"]) == ("failed", 1)
    message = 'must be "pairwise" or "rating", got "ranking"'
    assert failed["errors"] == [{"line": 2, "field": "task", "message": message}]
    assert (Batch.objects.count(), Example.objects.count()) == (0, 0)
    retried = client.post(f"/api/control/imports/{body['id']}/retry/")
    assert retried.status_code == 202
    again = _finished(client, body["url"])
    assert (again["status"], again["attempts"]) == ("failed", 2)


def test_api_import_job_retry_of_a_queued_job_is_409(client, lead_user):
    _login(client, lead_user)
    body = client.post("/api/control/batches/", {"name": "q", "file": _good()}).json()
    response = client.post(f"/api/control/imports/{body['id']}/retry/")
    assert response.status_code == 409
    assert response.json() == {"detail": f"job {body['id']} is queued; only a failed job can be retried"}


def test_api_import_job_forbidden_to_reviewers(client, lead_user, reviewer_user):
    _login(client, lead_user)
    job_id = client.post("/api/control/batches/", {"name": "q", "file": _good()}).json()["id"]
    _login(client, reviewer_user)
    assert client.get(f"/api/control/imports/{job_id}/").status_code == 403
    assert client.post(f"/api/control/imports/{job_id}/retry/").status_code == 403


def test_upload_large_file_htmx_shows_a_polling_progress_block(client, lead_user):
    _login(client, lead_user)
    response = _form(client, _good(), HTTP_HX_REQUEST="true")
    job = ImportJob.objects.get()
    assert response.status_code == 202
    html = response.content.decode()
    assert f'id="import-job-{job.pk}"' in html
    assert f'hx-get="/control/imports/{job.pk}/?part=progress" hx-trigger="every 1s"' in html
    assert 'id="upload-form"' in html  # a fresh form to start the next import
    assert (job.batch_name, job.batch_fields) == ("up", {"confidence_threshold": 0.8, "audit_rate": 0.1,
                                                         "routing_mode": "threshold",
                                                         "date": timezone.localdate().isoformat()})


def test_upload_large_file_without_js_redirects_to_the_job_page(client, lead_user):
    _login(client, lead_user)
    response = _form(client, _good())
    job = ImportJob.objects.get()
    assert (response.status_code, response["Location"]) == (302, f"/control/imports/{job.pk}/")
    page = client.get(response["Location"]).content.decode()
    assert '<meta http-equiv="refresh" content="2">' in page


def test_import_job_page_failed_lists_errors_escaped_with_a_retry_form(client, lead_user):
    job = ImportJob.objects.create(batch_name="<b>x</b>", status="failed", error_count=1, size_bytes=10,
                                   errors=[{"line": 4, "field": "id", "message": "<script>bad</script>"}])
    _login(client, lead_user)
    html = client.get(f"/control/imports/{job.pk}/?part=progress", HTTP_HX_REQUEST="true").content.decode()
    assert "line 4, field <code>id</code>: &lt;script&gt;bad&lt;/script&gt;" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert f'hx-post="/control/imports/{job.pk}/retry/"' in html
    assert "hx-trigger" not in html  # finished: no more polling


def test_import_job_retry_page_requeues_a_failed_job_and_refuses_others(client, lead_user):
    failed = ImportJob.objects.create(batch_name="f", status="failed", error_count=1)
    done = ImportJob.objects.create(batch_name="d", status="done")
    _login(client, lead_user)
    ok = client.post(f"/control/imports/{failed.pk}/retry/", HTTP_HX_REQUEST="true")
    refused = client.post(f"/control/imports/{done.pk}/retry/", HTTP_HX_REQUEST="true")
    assert (ok.status_code, refused.status_code) == (202, 409)
    assert "Only a failed import can be retried; this one is done." in refused.content.decode()
    failed.refresh_from_db()
    assert failed.status == "queued"


def test_import_job_page_forbidden_to_reviewers(client, reviewer_user):
    job = ImportJob.objects.create(batch_name="f")
    _login(client, reviewer_user)
    assert client.get(f"/control/imports/{job.pk}/").status_code == 403
    assert client.post(f"/control/imports/{job.pk}/retry/").status_code == 403
