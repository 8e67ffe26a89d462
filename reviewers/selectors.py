"""Reads for the reviewer pages, the roster and the agreement figures."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import timedelta
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from routing.batches.domains import path_covered
from routing.monitoring.metrics import Rate, labels_agree, rate

from .agreement import cohen_kappa, krippendorff_alpha_nominal
from .capacity import today_start
from .models import Credential, HumanLabel, Notification, ReviewerProfile, ReviewTask
from .references import label_value
from .services.corrections import adjudication_taken, undo_open
from .services.gold import gold_accuracy, gold_value
from .services.pool import credentials_valid, queue_state
from .services.queue import queue_left_count


def task_held(*, reviewer: ReviewerProfile, task_id: int) -> ReviewTask | None:
    """The task if this reviewer holds its lease, else None: nobody else may see an item."""
    return (
        ReviewTask.objects.select_related("example__domain")
        .filter(pk=task_id, assignee=reviewer, status=ReviewTask.Status.LEASED)
        .first()
    )


def task_pk(*, public_id: str) -> int | None:
    """The row behind a reviewer-facing item id, or None."""
    return ReviewTask.objects.filter(public_id=public_id).values_list("pk", flat=True).first()


def task_current(*, reviewer: ReviewerProfile) -> ReviewTask | None:
    """The item the reviewer holds a live lease on (what GET /review/ shows), else None. Reads
    only: claiming or renewing is for POSTs."""
    return (
        ReviewTask.objects.select_related("example__domain")
        .filter(assignee=reviewer, status=ReviewTask.Status.LEASED, lease_expires_at__gt=timezone.now())
        .order_by("id")
        .first()
    )


def queue_left(*, reviewer: ReviewerProfile, holding: bool) -> int:
    """"N left in your queue" for a page that claimed nothing (``queue_left_count``, with the
    reviewer's valid credentials and review labels today read here; ``holding``: whether they
    hold an item)."""
    now = timezone.now()
    credentials = credentials_valid(reviewer, now)
    if not credentials:
        return 0
    today = queue_state(reviewer).today
    return queue_left_count(reviewer=reviewer, credentials=credentials, today=today, holding=holding, now=now)


def labels_history(*, reviewer: ReviewerProfile) -> QuerySet[HumanLabel]:
    """The reviewer's own review labels, newest first (their history page); nobody else's. Each
    row carries what ``label_change_refusal`` reads, so a page costs the same queries at any size."""
    return (
        HumanLabel.objects.filter(reviewer=reviewer, source=HumanLabel.Source.REVIEW)
        .select_related("example__domain", "example__batch", "task")
        .annotate(adjudication_taken=adjudication_taken())
        .order_by("-created_at", "-id")
    )


def undo_offered(*, reviewer: ReviewerProfile) -> bool:
    """Whether the queue offers "undo" (the reviewer's last label is inside the undo window)."""
    return undo_open(labels_history(reviewer=reviewer).first(), timezone.now())


def _value(label: HumanLabel) -> float | None:
    return label_value(label, label.example.task)


def adjudicated_agreement(reviewer: ReviewerProfile) -> Rate:
    """How often the reviewer's labels match the adjudicator's label on the same example."""
    adjudicated = {
        x.example_id: x
        for x in HumanLabel.objects.filter(task__kind=ReviewTask.Kind.ADJUDICATION).select_related("example")
    }
    mine = (
        HumanLabel.objects.filter(reviewer=reviewer, example_id__in=list(adjudicated))
        .exclude(task__kind=ReviewTask.Kind.ADJUDICATION)
        .select_related("example")
    )
    hits = n = 0
    for label in mine:
        agree = labels_agree(label.example.task, _value(label), _value(adjudicated[label.example_id]))
        if agree is not None:
            n, hits = n + 1, hits + int(agree)
    return rate(hits, n)


def gold_accuracy_by_domain(reviewer: ReviewerProfile) -> list[dict[str, Any]]:
    """The reviewer's gold accuracy per credential domain."""
    return [
        {"domain": c.domain_prefix, "rate": gold_accuracy(reviewer, c.domain_prefix), "paused": c.paused}
        for c in reviewer.credentials.all()
    ]


def reviewer_stats(reviewer: ReviewerProfile) -> dict[str, Any]:
    """The reviewer's own page: today's count, gold accuracy, agreement with adjudication, pace."""
    labels = HumanLabel.objects.filter(reviewer=reviewer, source=HumanLabel.Source.REVIEW)
    seconds = [s for s in labels.values_list("seconds_spent", flat=True) if s is not None]
    return {
        "done_today": labels.filter(created_at__gte=today_start(reviewer.timezone)).count(),
        "done_total": labels.count(),
        "capacity": reviewer.capacity_per_day,
        "gold": gold_accuracy(reviewer),
        "gold_by_domain": gold_accuracy_by_domain(reviewer),
        "adjudicated": adjudicated_agreement(reviewer),
        "median_seconds": statistics.median(seconds) if seconds else None,
    }


def agreement_by_domain() -> list[dict[str, Any]]:
    """Per domain, over HybridQC reviewers' labels (gold checks excluded): Cohen's kappa over
    the first two labels of doubly reviewed items, Krippendorff's alpha over all labels."""
    units: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    qs = (
        HumanLabel.objects.filter(source=HumanLabel.Source.REVIEW)
        .exclude(task__kind=ReviewTask.Kind.GOLD)
        .select_related("example__domain")
        .order_by("created_at", "id")
    )
    for label in qs:
        value = _value(label)
        if value is not None:
            units[label.example.domain.path][label.example_id].append(value)
    rows = []
    for domain, items in sorted(units.items()):
        pairs = [v[:2] for v in items.values() if len(v) >= 2]
        kappa = cohen_kappa([p[0] for p in pairs], [p[1] for p in pairs]) if pairs else None
        rows.append(
            {
                "domain": domain,
                "items": len(pairs),
                "kappa": kappa,
                "alpha": krippendorff_alpha_nominal(list(items.values())),
            }
        )
    return rows


def roster() -> list[ReviewerProfile]:
    """Reviewers with their credentials, today's work, and gold accuracy per credential
    (``credential.gold``, a Rate with its Wilson interval); gold labels are read in one query."""
    reviewers: list[ReviewerProfile] = list(
        ReviewerProfile.objects.select_related("user")
        .prefetch_related(Prefetch("credentials", queryset=Credential.objects.order_by("domain_prefix")))
        .annotate(done_today=Count("labels", filter=Q(labels__created_at__gte=today_start())))
    )
    gold: dict[int, list[tuple[str, bool | None]]] = defaultdict(list)
    labels = HumanLabel.objects.filter(source=HumanLabel.Source.REVIEW, example__is_gold=True).select_related(
        "example__domain"
    )
    for label in labels:
        e = label.example
        gold[label.reviewer_id or 0].append((e.domain.path, labels_agree(e.task, _value(label), gold_value(e))))
    for r in reviewers:
        for c in r.credentials.all():
            marks = [ok for path, ok in gold[r.pk] if ok is not None and path_covered(path, c.domain_prefix)]
            c.gold = rate(sum(marks), len(marks))  # type: ignore[attr-defined]
    return reviewers


def credentials_expiring(days: int = 30) -> QuerySet[Credential]:
    """Credentials that expire within ``days`` (and have not expired yet)."""
    now = timezone.now()
    return (
        Credential.objects.select_related("reviewer__user")
        .filter(expires_at__gt=now, expires_at__lte=now + timedelta(days=days))
        .order_by("expires_at")
    )


def unstaffed_tasks(limit: int = 500) -> list[ReviewTask]:
    """Tasks no reviewer holds a matching credential for."""
    return list(
        ReviewTask.objects.filter(status=ReviewTask.Status.UNSTAFFED)
        .select_related("example__domain", "example__batch")
        .order_by("example__domain__path", "id")[:limit]
    )


def unstaffed_by_domain() -> list[dict[str, Any]]:
    return [
        dict(row)
        for row in ReviewTask.objects.filter(status=ReviewTask.Status.UNSTAFFED)
        .values("example__domain__path", "min_level")
        .annotate(n=Count("id"))
        .order_by("example__domain__path")
    ]


def notifications_open() -> QuerySet[Notification]:
    return Notification.objects.filter(resolved_at__isnull=True).select_related("reviewer", "credential")
