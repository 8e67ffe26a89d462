import io
import json

from django.core.files.uploadedfile import SimpleUploadedFile

from hybridqc.flows.batches import batch_route
from routing.batches.models import Batch, Example
from tests import factories


def _login(client, user):
    client.login(username=user.username, password=factories.PASSWORD)


def test_control_center_forbidden_to_reviewers(client, reviewer_user):
    _login(client, reviewer_user)
    assert client.get("/control/").status_code == 403


def test_control_center_redirects_anonymous_to_login(client, db):
    response = client.get("/control/")
    assert (response.status_code, response.url) == (302, "/accounts/login/?next=/control/")


def test_control_center_lists_batches_for_leads(client, lead_user):
    factories.batch("visible-batch")
    _login(client, lead_user)
    response = client.get("/control/")
    assert response.status_code == 200
    assert b'data-batch="visible-batch"' in response.content


def _upload(client, name, lines):
    data = ("\n".join(lines) + "\n").encode()
    return client.post("/control/upload/", {
        "name": name, "file": SimpleUploadedFile("up.jsonl", data), "confidence_threshold": 0.8,
        "audit_rate": 0.1, "routing_mode": "threshold"}, HTTP_HX_REQUEST="true")


def test_upload_bad_line_is_400_names_line_and_writes_nothing(client, lead_user):
    _login(client, lead_user)
    lines = factories.jsonl([factories.pairwise_item(1), factories.pairwise_item(2, task="essay")])
    response = _upload(client, "up", lines)
    assert response.status_code == 400
    assert "line 2, field <code>task</code>" in response.content.decode()
    assert (Batch.objects.count(), Example.objects.count()) == (0, 0)


def test_upload_good_file_imports_and_redirects(client, lead_user):
    _login(client, lead_user)
    response = _upload(client, "up", factories.jsonl([factories.pairwise_item(i) for i in range(3)]))
    batch = Batch.objects.get(name="up")
    assert (response.status_code, response["HX-Redirect"]) == (200, f"/control/batch/{batch.pk}/")
    assert batch.examples.count() == 3


def test_batch_page_escapes_model_output_ids(client, lead_user):
    factories.batch("esc", items=[factories.pairwise_item(1, id="<script>x</script>")])
    _login(client, lead_user)
    batch = Batch.objects.get(name="esc")

    batch_route(batch=batch)
    body = client.get(f"/control/batch/{batch.pk}/").content.decode()
    assert "<script>x</script>" not in body
    assert "&lt;script&gt;x&lt;/script&gt;" in body


def test_batch_export_is_jsonl_with_sources(client, lead_user):
    batch = factories.batch("exp", audit_rate=0.0, audit_min_per_domain=0).batch

    batch_route(batch=batch)
    _login(client, lead_user)
    response = client.get(f"/control/batch/{batch.pk}/export.jsonl")
    rows = [json.loads(line) for line in io.StringIO(b"".join(response.streaming_content).decode())]
    assert [(r["id"], r["source"], r["label"]) for r in rows] == [(f"item-{i}", "judge", 1) for i in range(5)]


def test_api_import_bad_line_returns_line_and_field(client, lead_user):
    _login(client, lead_user)
    data = (json.dumps(factories.pairwise_item(1, responses=["a", {"x": 1}])) + "\n").encode()
    response = client.post("/api/control/batches/", {"name": "api", "file": SimpleUploadedFile("a.jsonl", data)})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"line": 1, "field": "responses[1]", "message": "must be a string, got dict"}]
    assert not Batch.objects.filter(name="api").exists()


def test_api_batches_forbidden_to_reviewers(client, reviewer_user):
    _login(client, reviewer_user)
    assert client.get("/api/control/batches/").status_code == 403


def test_control_center_batches_partial_for_htmx_polling(client, lead_user):
    factories.batch("poll-batch")
    _login(client, lead_user)
    body = client.get("/control/?part=batches", HTTP_HX_REQUEST="true").content.decode()
    assert body.lstrip().startswith('<section class="card" id="batches"')
    assert 'data-batch="poll-batch"' in body
    assert "<html" not in body
