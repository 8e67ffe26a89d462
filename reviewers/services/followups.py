"""What a new label sets off: a second review for a share of tasks, adjudication when reviewers
disagree, a more senior review when flagged, and the gold accuracy check."""

from __future__ import annotations

import random

from django.conf import settings

from routing.monitoring.metrics import labels_agree

from ..models import LEVEL_ORDER, HumanLabel, ReviewTask, level_rank
from ..references import label_value
from .gold import gold_check
from .matching import review_tasks_create

FIRST_KINDS = {ReviewTask.Kind.ROUTED, ReviewTask.Kind.AUDIT}


def second_share() -> float:
    return float(getattr(settings, "REVIEW_SECOND_SHARE", 0.10))


def second_review_drawn(example_id: int, share: float) -> bool:
    """A seeded draw per example, so a redelivered follow-up decides the same way."""
    return random.Random(f"second-review:{example_id}").random() < share


def reviewers_disagree(example_id: int, task_type: str) -> bool:
    """Whether any two review labels (besides gold checks and adjudications) differ."""
    labels = HumanLabel.objects.filter(
        example_id=example_id, source=HumanLabel.Source.REVIEW, task__kind__in=[*FIRST_KINDS, "second"]
    )
    values = [label_value(x, task_type) for x in labels]
    return any(labels_agree(task_type, a, b) is False for i, a in enumerate(values) for b in values[i + 1 :])


def _has_task(example_id: int, kind: str, min_level: str | None = None) -> bool:
    qs = ReviewTask.objects.filter(example_id=example_id, kind=kind)
    return (qs.filter(min_level=min_level) if min_level is not None else qs).exists()


def label_followups(*, task: ReviewTask, label: HumanLabel) -> list[ReviewTask]:
    """Create the review tasks a label calls for; returns them."""
    example = task.example
    created: list[ReviewTask] = []
    if (
        task.kind in FIRST_KINDS
        and second_review_drawn(example.pk, second_share())
        and not _has_task(example.pk, ReviewTask.Kind.SECOND, "")
    ):
        created += review_tasks_create(examples=[example], kind=ReviewTask.Kind.SECOND)
    if "needs_higher_credential" in label.flags and task.kind != ReviewTask.Kind.ADJUDICATION:
        level = LEVEL_ORDER[min(level_rank(task.min_level) + 1, len(LEVEL_ORDER) - 1)]
        if not _has_task(example.pk, ReviewTask.Kind.SECOND, level):
            created += review_tasks_create(examples=[example], kind=ReviewTask.Kind.SECOND, min_level=level)
    if (
        task.kind == ReviewTask.Kind.SECOND
        and reviewers_disagree(example.pk, example.task)
        and not _has_task(example.pk, ReviewTask.Kind.ADJUDICATION)
    ):
        created += review_tasks_create(examples=[example], kind=ReviewTask.Kind.ADJUDICATION, min_level=LEVEL_ORDER[-1])
    if example.is_gold:
        gold_check(reviewer=label.reviewer, example=example)
    return created
