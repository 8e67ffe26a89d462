"""The review API (DRF): next item and submit, through the same services as the htmx views."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hybridqc.api_schema import DetailSerializer
from hybridqc.roles import IsReviewer

from .forms import CHOICE_KEYS, CRITERIA, label_input
from .models import ReviewTask
from .selectors import task_pk
from .services import FLAGS, ReviewError, review_label_submit, review_lease_renew, review_task_claim


class TaskSerializer(serializers.Serializer):
    """What a reviewer sees of a task: the item, never the judge's verdict or the task kind."""

    id = serializers.CharField(source="public_id")
    domain = serializers.CharField(source="example.domain.path")
    task = serializers.CharField(source="example.task")
    prompt = serializers.CharField(source="example.prompt")
    responses = serializers.ListField(child=serializers.CharField(), source="example.responses")
    scale_min = serializers.FloatField(source="example.scale_min", allow_null=True)
    scale_max = serializers.FloatField(source="example.scale_max", allow_null=True)
    lease_expires_at = serializers.DateTimeField(allow_null=True)
    submit_url = serializers.SerializerMethodField()

    def get_submit_url(self, task: ReviewTask) -> str:
        return f"/api/review/tasks/{task.public_id}/submit/"


SubmittedSerializer = inline_serializer("SubmittedLabel", {
    "label_id": serializers.IntegerField(), "task_id": serializers.CharField(),
    "choice": serializers.IntegerField(allow_null=True), "rating": serializers.FloatField(allow_null=True),
})
LeaseSerializer = inline_serializer("LeaseRenewed", {
    "id": serializers.CharField(), "lease_expires_at": serializers.DateTimeField(),
})


class LabelSerializer(serializers.Serializer):
    choice = serializers.ChoiceField(choices=list(CHOICE_KEYS), required=False, allow_null=True)
    rating = serializers.FloatField(required=False, allow_null=True)
    rationale = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    flags = serializers.ListField(child=serializers.ChoiceField(choices=list(FLAGS)), required=False, default=list)
    seconds_spent = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=86400)
    criteria = serializers.DictField(child=serializers.ChoiceField(choices=list(CHOICE_KEYS)), required=False)

    def validate_criteria(self, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - set(CRITERIA)
        if unknown:
            raise serializers.ValidationError(f"unknown criteria: {', '.join(sorted(unknown))}")
        return value

    def service_kwargs(self) -> dict[str, Any]:
        d = self.validated_data
        return label_input(choice=d.get("choice"), rating=d.get("rating"), rationale=d.get("rationale"),
                           flags=d.get("flags"), seconds_spent=d.get("seconds_spent"), criteria=d.get("criteria"))


class NextItemApi(APIView):
    """POST: claim (or get back) the reviewer's next item; 204 when the queue is empty."""

    permission_classes = [IsAuthenticated, IsReviewer]

    @extend_schema(request=None, responses={200: TaskSerializer, 204: OpenApiResponse(description="Queue empty.")})
    def post(self, request: Request) -> Response:
        reviewer = request.user.reviewer  # type: ignore[union-attr]
        task = review_task_claim(reviewer=reviewer)
        if task is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(TaskSerializer(task).data)


class SubmitApi(APIView):
    """POST a label for a held task; repeating it returns the label stored first."""

    permission_classes = [IsAuthenticated, IsReviewer]

    @extend_schema(request=LabelSerializer, responses={201: SubmittedSerializer, 403: DetailSerializer,
                                                       404: DetailSerializer, 409: DetailSerializer})
    def post(self, request: Request, item: str) -> Response:
        serializer = LabelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = ReviewTask.objects.filter(public_id=item).first()
        if task is None:
            return Response({"detail": "No such item."}, status=status.HTTP_404_NOT_FOUND)
        try:
            label = review_label_submit(
                task=task,
                reviewer=request.user.reviewer,  # type: ignore[union-attr]
                **serializer.service_kwargs(),
            )
        except ReviewError as exc:
            return Response({"detail": exc.message}, status=exc.status)
        return Response(
            {"label_id": label.pk, "task_id": task.public_id, "choice": label.choice, "rating": label.rating},
            status=status.HTTP_201_CREATED,
        )


class HeartbeatApi(APIView):
    """POST while a reviewer works on a held task: renews its lease; 409 once it is not theirs or
    its lease reached its longest, 403 once they may no longer review it."""

    permission_classes = [IsAuthenticated, IsReviewer]

    @extend_schema(request=None, responses={200: LeaseSerializer, 403: DetailSerializer, 409: DetailSerializer})
    def post(self, request: Request, item: str) -> Response:
        # An unknown item is refused like another reviewer's (409): the service decides both.
        task = ReviewTask(pk=task_pk(public_id=item) or 0, public_id=item)
        reviewer = request.user.reviewer  # type: ignore[union-attr]
        try:
            until = review_lease_renew(task=task, reviewer=reviewer)
        except ReviewError as exc:
            return Response({"detail": exc.message}, status=exc.status)
        return Response({"id": task.public_id, "lease_expires_at": until})
