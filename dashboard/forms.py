import datetime

from django import forms
from django.core.files.uploadedfile import UploadedFile

from routing.batches.models import Batch
from routing.ingest.import_validation import upload_size_problem


class BatchUploadForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="A new name creates a batch; an existing one adds to it.")
    file = forms.FileField(help_text="Format v1: one JSON object per line (.jsonl).")
    confidence_threshold = forms.FloatField(min_value=0.0, max_value=1.0, initial=0.8)
    audit_rate = forms.FloatField(min_value=0.0, max_value=1.0, initial=Batch.DEFAULT_AUDIT_RATE, required=False)
    routing_mode = forms.ChoiceField(choices=Batch.Mode.choices, initial=Batch.Mode.THRESHOLD)
    date = forms.DateField(required=False, help_text="The day the batch stands for (YYYY-MM-DD); default today.",
                           widget=forms.DateInput(attrs={"type": "date"}))

    def clean_date(self) -> datetime.date:
        return self.cleaned_data["date"] or datetime.date.today()

    def clean_audit_rate(self) -> float:
        value = self.cleaned_data["audit_rate"]
        return Batch.DEFAULT_AUDIT_RATE if value is None else value

    def clean_file(self) -> UploadedFile:
        upload = self.cleaned_data["file"]
        if problem := upload_size_problem(upload.size):
            raise forms.ValidationError(problem)
        return upload


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. “training pipeline”.")
    expires_in_days = forms.IntegerField(min_value=1, initial=90, required=False,
                                         help_text="Days until it stops working.")


class ExportStartForm(forms.Form):
    # Not ``format``: the synchronous export's query parameter is ``fmt`` too.
    fmt = forms.ChoiceField(choices=[("jsonl", "JSONL"), ("csv", "CSV"), ("parquet", "Parquet"),
                                     ("preference", "preference pairs")], initial="jsonl", label="Format")
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)
