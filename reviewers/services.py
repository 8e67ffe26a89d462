"""Writes for the reviewer side: imported labels, review tasks and their assignment."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import Q
from django.utils import timezone

from routing.models import Example

from .models import Credential, HumanLabel, ReviewerProfile, ReviewTask


def import_labels_create(*, labels: Iterable[tuple[Example, Sequence[dict[str, Any]]]]) -> int:
    """Store imported human labels as labels of external annotators; returns the count."""
    rows = [
        HumanLabel(
            example=example,
            annotator=raw["annotator"],
            source=HumanLabel.Source.IMPORT,
            choice=raw.get("choice"),
            rating=raw.get("rating"),
            rationale=raw.get("rationale", ""),
        )
        for example, items in labels
        for raw in items
    ]
    HumanLabel.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    return len(rows)


def valid_credentials() -> Any:
    """Credentials usable right now: unexpired, not paused, of an active reviewer."""
    now = timezone.now()
    return Credential.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now),
        paused=False,
        reviewer__status=ReviewerProfile.Status.ACTIVE,
    )


def eligible_reviewer_ids(example: Example, credentials: Sequence[Credential]) -> list[int]:
    """Reviewers whose credential covers the example's domain, most specific first."""
    matching = [c for c in credentials if example.domain.covered_by(c.domain_prefix)]
    matching.sort(key=lambda c: -len(c.domain_prefix))
    seen: list[int] = []
    for credential in matching:
        if credential.reviewer_id not in seen:
            seen.append(credential.reviewer_id)
    return seen


def review_tasks_create(*, examples: Sequence[Example], kind: str) -> list[ReviewTask]:
    """Create one review task per example: open when a credentialed reviewer exists, else unstaffed.

    The assignee is the eligible reviewer with the fewest open tasks (most specific credential
    wins ties), so the load stays balanced across the roster.
    """
    credentials = list(valid_credentials().select_related("reviewer"))
    load: dict[int, int] = {}
    for row in ReviewTask.objects.filter(status__in=["open", "leased"]).values("assignee_id"):
        if row["assignee_id"]:
            load[row["assignee_id"]] = load.get(row["assignee_id"], 0) + 1
    tasks = []
    for example in examples:
        candidates = eligible_reviewer_ids(example, credentials)
        assignee = min(candidates, key=lambda r: (load.get(r, 0), candidates.index(r))) if candidates else None
        if assignee is not None:
            load[assignee] = load.get(assignee, 0) + 1
        status = ReviewTask.Status.OPEN if assignee else ReviewTask.Status.UNSTAFFED
        tasks.append(ReviewTask(example=example, kind=kind, status=status, assignee_id=assignee))
    return ReviewTask.objects.bulk_create(tasks, batch_size=2000)
