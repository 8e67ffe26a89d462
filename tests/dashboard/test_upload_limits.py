"""Upload and request size limits: oversized imports answer 4xx with a clear message, never 500."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from reviewers.models import HumanLabel
from routing.batches.models import Batch, Example
from routing.ingest.import_v1 import ImportValidationError, parse_lines
from routing.ingest.import_validation import FIELDS_TOO_LARGE
from routing.judging.models import Judgment
from tests import factories

LIMIT = 2000
OVERHEAD = 1024 * 1024


@pytest.fixture(autouse=True)
def _small_limit(settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = LIMIT


def _rows():
    return Batch.objects.count(), Example.objects.count(), Judgment.objects.count(), HumanLabel.objects.count()


def _file(size):
    """A valid format-v1 file padded with blank lines to exactly ``size`` bytes."""
    data = ("\n".join(factories.jsonl([factories.pairwise_item(i) for i in range(3)])) + "\n").encode()
    return SimpleUploadedFile("big.jsonl", data + b"\n" * (size - len(data)))


def _login(client, user):
    client.login(username=user.username, password=factories.PASSWORD)


def _form(client, upload):
    fields = {"name": "up", "file": upload, "confidence_threshold": 0.8, "audit_rate": 0.1,
              "routing_mode": "threshold"}
    return client.post("/control/upload/", fields, HTTP_HX_REQUEST="true")


def test_import_command_oversized_file_exits_1_and_writes_nothing(db, tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_bytes(_file(LIMIT + 1).read())
    with pytest.raises(CommandError) as info:
        call_command("import_examples", str(path), "--batch", "cmd", "--no-pipeline")
    assert info.value.returncode == 1
    assert str(info.value) == "big.jsonl: the file is 2001 bytes; at most 2000 bytes can be imported " \
                              "(IMPORT_MAX_UPLOAD_BYTES)"
    assert _rows() == (0, 0, 0, 0)


def test_parse_lines_stops_reading_past_the_size_limit():
    lines = factories.jsonl([factories.pairwise_item(i) for i in range(50)])
    with pytest.raises(ImportValidationError) as info:
        parse_lines(lines)
    past = next(n for n in range(1, 51) if sum(len(line) for line in lines[:n]) > LIMIT)
    assert [str(e) for e in info.value.errors] == [
        f"line {past}: (file): is larger than 2000 bytes, the most that can be imported; stopped reading here"]


def test_api_import_oversized_file_is_400_and_writes_nothing(client, lead_user):
    _login(client, lead_user)
    response = client.post("/api/control/batches/", {"name": "api", "file": _file(LIMIT + 1)})
    assert response.status_code == 400
    assert response.json() == {"file": ["the file is 2001 bytes; at most 2000 bytes can be imported"]}
    assert _rows() == (0, 0, 0, 0)


def test_api_import_oversized_request_is_413_and_writes_nothing(client, lead_user):
    _login(client, lead_user)
    response = client.post("/api/control/batches/", {"name": "api", "file": _file(LIMIT + OVERHEAD + 1)})
    assert response.status_code == 413
    assert response.json() == {"detail": "the upload is 1.0 MB; at most 2000 bytes can be imported"}
    assert _rows() == (0, 0, 0, 0)


def test_api_import_oversized_fields_are_413(client, lead_user, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    _login(client, lead_user)
    response = client.post("/api/control/batches/", {"name": "x" * 5000, "file": _file(100)})
    assert (response.status_code, response.json()) == (413, {"detail": FIELDS_TOO_LARGE})
    assert _rows() == (0, 0, 0, 0)


def test_upload_oversized_file_is_400_with_message(client, lead_user):
    _login(client, lead_user)
    response = _form(client, _file(LIMIT + 1))
    assert response.status_code == 400
    assert "the file is 2001 bytes; at most 2000 bytes can be imported" in response.content.decode()
    assert _rows() == (0, 0, 0, 0)


def test_upload_oversized_request_is_413_with_message(client, lead_user):
    _login(client, lead_user)
    response = _form(client, _file(LIMIT + OVERHEAD + 1))
    assert response.status_code == 413
    assert "Nothing was imported: the upload is 1.0 MB; at most 2000 bytes can be imported" in \
        response.content.decode()
    assert _rows() == (0, 0, 0, 0)


def test_upload_oversized_fields_are_413_with_message(client, lead_user, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    _login(client, lead_user)
    response = client.post("/control/upload/", {"name": "x" * 5000, "file": _file(100)}, HTTP_HX_REQUEST="true")
    assert response.status_code == 413
    assert f"Nothing was imported: {FIELDS_TOO_LARGE}" in response.content.decode()


def test_upload_within_the_limit_imports(client, lead_user):
    _login(client, lead_user)
    response = _form(client, _file(LIMIT))
    assert response.status_code == 200
    assert Batch.objects.get(name="up").examples.count() == 3
