"""Request and response shapes of the control-center and token APIs (also what the schema shows)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from routing.batches.models import Batch
from routing.ingest.import_validation import upload_size_problem

from .models import ApiToken


class BatchImportSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    file = serializers.FileField(help_text="A format-v1 JSONL file.")
    confidence_threshold = serializers.FloatField(min_value=0, max_value=1, default=0.8)
    audit_rate = serializers.FloatField(min_value=0, max_value=1, default=Batch.DEFAULT_AUDIT_RATE)
    routing_mode = serializers.ChoiceField(choices=Batch.Mode.choices, default=Batch.Mode.THRESHOLD)
    date = serializers.DateField(required=False, help_text="YYYY-MM-DD; default today")

    def validate_file(self, upload: Any) -> Any:
        if problem := upload_size_problem(upload.size):
            raise serializers.ValidationError(problem)
        return upload


class BatchImportResultSerializer(serializers.Serializer):
    batch = serializers.CharField()
    id = serializers.IntegerField()
    created = serializers.IntegerField(help_text="Examples added.")
    skipped = serializers.IntegerField(help_text="Examples already in the batch (same id).")


class ImportErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(allow_null=True)
    field = serializers.CharField()
    message = serializers.CharField()


# Built inline: a declared field named "errors" would shadow Serializer.errors for type checkers.
ImportRefusedSerializer = inline_serializer(
    "ImportRefused", {"detail": serializers.CharField(), "errors": ImportErrorSerializer(many=True)}
)


class ReleaseGateSerializer(serializers.Serializer):
    passed = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())
    target = serializers.FloatField(help_text="Target agreement 1 - alpha.")


def _count() -> serializers.IntegerField:
    return serializers.IntegerField()


def _share() -> serializers.FloatField:
    return serializers.FloatField(allow_null=True)


def _interval() -> serializers.ListField:
    return serializers.ListField(child=serializers.FloatField(), allow_null=True, min_length=2, max_length=2)


class BatchReportSerializer(serializers.Serializer):
    """A batch's figures as the control center shows them (null: nothing to measure yet)."""

    batch = serializers.CharField()
    status = serializers.CharField()
    examples = _count()
    routed = _count()
    judge_kept = _count()
    judge_only = _count()
    routed_to_human = _count()
    audited = _count()
    human_tasks = _count()
    human_done = _count()
    unstaffed = _count()
    judge_kept_share = _share()
    judge_only_share = _share()
    routed_to_human_share = _share()
    audited_share = _share()
    human_done_share = _share()
    audit_agreement = _share()
    audit_agreement_ci = _interval()
    audit_agreement_n = _count()
    audit_agreement_n_eff = _share()
    override_rate = _share()
    override_rate_ci = _interval()
    override_rate_n = _count()
    release_gate = ReleaseGateSerializer()


class GateSerializer(serializers.Serializer):
    batch = serializers.CharField()
    release = serializers.BooleanField(help_text="True: the batch may go to training.")
    reasons = serializers.ListField(child=serializers.CharField(), help_text="Why not (empty when released).")
    target = serializers.FloatField()


class ApiTokenSerializer(serializers.ModelSerializer):
    state = serializers.SerializerMethodField()

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at", "state"]

    def get_state(self, token: ApiToken) -> str:
        return token.state()


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    expires_in_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text="Omitted: the longest allowed (API_TOKEN_MAX_DAYS)."
    )


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(help_text="The token itself: shown this once, never again.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
