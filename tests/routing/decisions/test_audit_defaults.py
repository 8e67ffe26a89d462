from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from dashboard.apis import BatchImportSerializer
from dashboard.forms import BatchUploadForm
from routing.batches.models import Batch
from tests import factories

DEFAULT = Batch.DEFAULT_AUDIT_RATE


def _file(name: str = "up.jsonl") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, ("\n".join(factories.jsonl([factories.pairwise_item(1)])) + "\n").encode())


def test_audit_rate_default_is_the_model_field_default():
    assert DEFAULT == 0.05
    assert Batch._meta.get_field("audit_rate").default == DEFAULT
    assert Batch().audit_rate == DEFAULT


def test_audit_rate_upload_form_defaults_to_the_batch_default():
    assert BatchUploadForm().fields["audit_rate"].initial == DEFAULT
    form = BatchUploadForm({"name": "f", "confidence_threshold": 0.8, "routing_mode": "threshold"},
                           {"file": _file()})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["audit_rate"] == DEFAULT


def test_audit_rate_api_serializer_defaults_to_the_batch_default(client, lead_user):
    serializer = BatchImportSerializer(data={"name": "s", "file": _file()})
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data["audit_rate"] == DEFAULT
    client.force_login(lead_user)
    assert client.post("/api/control/batches/", {"name": "api", "file": _file()}).status_code == 201
    assert Batch.objects.get(name="api").audit_rate == DEFAULT


def test_audit_rate_import_examples_command_defaults_to_the_batch_default(db, tmp_path):
    path = tmp_path / "one.jsonl"
    path.write_text("\n".join(factories.jsonl([factories.pairwise_item(1)])) + "\n")
    call_command("import_examples", str(path), "--batch", "cli", "--no-pipeline")
    assert Batch.objects.get(name="cli").audit_rate == DEFAULT


def test_audit_rate_readme_states_the_batch_default():
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    assert f"(default {DEFAULT:.0%}, the same for the" in readme
