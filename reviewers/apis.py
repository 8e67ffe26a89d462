"""The review API (DRF): next item and submit, through the same services as the htmx views."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hybridqc.roles import IsReviewer

from .forms import CHOICE_KEYS, CRITERIA, label_input
from .models import ReviewTask
from .services import FLAGS, ReviewError, review_label_submit, review_lease_renew, review_task_claim


class TaskSerializer(serializers.Serializer):
    """What a reviewer sees of a task: the item, never the judge's verdict or the task kind."""

    def to_representation(self, task: ReviewTask) -> dict[str, Any]:
        e = task.example
        return {
            "id": task.pk,
            "domain": e.domain.path,
            "task": e.task,
            "prompt": e.prompt,
            "responses": e.responses,
            "scale_min": e.scale_min,
            "scale_max": e.scale_max,
            "lease_expires_at": task.lease_expires_at,
            "submit_url": f"/api/review/tasks/{task.pk}/submit/",
        }


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

    def post(self, request: Request) -> Response:
        reviewer = request.user.reviewer  # type: ignore[union-attr]
        task = review_task_claim(reviewer=reviewer)
        if task is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(TaskSerializer(task).data)


class SubmitApi(APIView):
    """POST a label for a held task; repeating it returns the label stored first."""

    permission_classes = [IsAuthenticated, IsReviewer]

    def post(self, request: Request, task_id: int) -> Response:
        serializer = LabelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = ReviewTask.objects.filter(pk=task_id).first()
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
            {"label_id": label.pk, "task_id": task.pk, "choice": label.choice, "rating": label.rating},
            status=status.HTTP_201_CREATED,
        )


class HeartbeatApi(APIView):
    """POST while a reviewer works on a held task: renews its lease; 409 once it is not theirs or
    its lease reached its longest, 403 once they may no longer review it."""

    permission_classes = [IsAuthenticated, IsReviewer]

    def post(self, request: Request, task_id: int) -> Response:
        # The service decides every refusal, so this API and the htmx heartbeat answer alike.
        reviewer = request.user.reviewer  # type: ignore[union-attr]
        try:
            until = review_lease_renew(task=ReviewTask(pk=task_id), reviewer=reviewer)
        except ReviewError as exc:
            return Response({"detail": exc.message}, status=exc.status)
        return Response({"id": task_id, "lease_expires_at": until})
