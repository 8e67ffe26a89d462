"""API: start a live judge run over a batch, and list the batch's runs."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hybridqc.api_schema import DetailSerializer
from hybridqc.roles import IsLead
from routing.batches.models import Batch
from routing.judging.judge_runs import judge_run_start
from routing.judging.models import JudgeRun
from routing.judging.selectors import judge_configs_active
from routing.judging.services import JudgeSetupError


class JudgeRunStartSerializer(serializers.Serializer):
    judge_config = serializers.PrimaryKeyRelatedField(
        queryset=judge_configs_active(),
        error_messages={"does_not_exist": "No active judge configuration with id {pk_value}."},
    )


class JudgeRunSerializer(serializers.ModelSerializer):
    judge = serializers.CharField(source="judge_config.key", default="")

    class Meta:
        model = JudgeRun
        fields = ["id", "batch", "judge", "backend", "status", "total", "done", "failed", "prompt_tokens",
                  "completion_tokens", "last_error", "started_at", "finished_at"]


class JudgeRunsApi(APIView):
    """GET: the batch's judge runs, newest first. POST {"judge_config": id}: start a run."""

    permission_classes = [permissions.IsAuthenticated, IsLead]

    @extend_schema(responses=JudgeRunSerializer(many=True))
    def get(self, request: Request, batch_id: int) -> Response:
        batch = get_object_or_404(Batch, pk=batch_id)
        runs = batch.judge_runs.select_related("judge_config").order_by("-started_at", "-id")
        return Response(JudgeRunSerializer(runs, many=True).data)

    @extend_schema(request=JudgeRunStartSerializer, responses={201: JudgeRunSerializer, 409: DetailSerializer})
    def post(self, request: Request, batch_id: int) -> Response:
        batch = get_object_or_404(Batch, pk=batch_id)
        body = JudgeRunStartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            run = judge_run_start(batch=batch, config=body.validated_data["judge_config"])
        except JudgeSetupError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(JudgeRunSerializer(run).data, status=status.HTTP_201_CREATED)
