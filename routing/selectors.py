"""Reads for routing: human reference labels, the router's view of examples, roster capacity."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from reviewers.models import Credential, HumanLabel, ReviewerProfile, ReviewTask
from routing.metrics import majority_label
from routing.models import Batch, Domain, Example, Judgment, RouterModel
from routing.router.features import ItemInput

OPEN_TASK_STATUSES = [ReviewTask.Status.OPEN, ReviewTask.Status.LEASED]


def _label_value(label: HumanLabel, task: str) -> float | None:
    return label.rating if task == "rating" else label.choice


def example_references(examples: Iterable[Example]) -> dict[int, float]:
    """The human reference label per example id (examples without one are absent).

    The adjudicated label wins when there is one (ReviewTask.kind == "adjudication"); otherwise
    the majority of every human label, imported history included; a tied majority is no reference.
    """
    tasks = {e.pk: e.task for e in examples}
    labels: dict[int, list[HumanLabel]] = defaultdict(list)
    for label in HumanLabel.objects.filter(example_id__in=list(tasks)).select_related("task"):
        labels[label.example_id].append(label)
    out: dict[int, float] = {}
    for example_id, rows in labels.items():
        task = tasks[example_id]
        adjudicated = [r for r in rows if r.task is not None and r.task.kind == ReviewTask.Kind.ADJUDICATION]
        if adjudicated:
            value = _label_value(adjudicated[-1], task)
        else:
            value = majority_label([v for r in rows if (v := _label_value(r, task)) is not None])
        if value is not None:
            out[example_id] = float(value)
    return out


def labeled_examples() -> QuerySet[Example]:
    """Every example with at least one human label, oldest first (the router's training pool)."""
    return (
        Example.objects.filter(human_labels__isnull=False)
        .distinct()
        .select_related("domain", "batch")
        .order_by("id")
    )


def human_label_count() -> int:
    return HumanLabel.objects.count()


def example_inputs(examples: Sequence[Example], primary_judge: str | None = None) -> list[ItemInput]:
    """The router's view of stored examples (same ``ItemInput`` the backtest builds from a file).

    ``primary_judge`` defaults to each example's batch primary judge."""
    by_example: dict[int, list[Judgment]] = defaultdict(list)
    for j in Judgment.objects.filter(example__in=examples).order_by("id"):
        by_example[j.example_id].append(j)
    return [
        ItemInput(
            domain=e.domain.path,
            task=e.task,
            prompt=e.prompt,
            responses=e.responses,
            judgments=by_example.get(e.pk, []),
            primary_judge=primary_judge if primary_judge is not None else e.batch.primary_judge,
            flagged=e.flagged,
        )
        for e in examples
    ]


def router_active() -> RouterModel | None:
    return RouterModel.objects.filter(is_active=True).order_by("-version").first()


def router_models() -> QuerySet[RouterModel]:
    return RouterModel.objects.defer("blob").order_by("-version")


def router_latest() -> RouterModel | None:
    """The last trained version, active or not."""
    return RouterModel.objects.defer("blob").order_by("-version").first()


def router_previous_active(active: RouterModel) -> RouterModel | None:
    """The version ``active`` replaced (what a rollback returns to); for versions activated
    before that was recorded, the newest retired one."""
    others = RouterModel.objects.defer("blob").exclude(pk=active.pk)
    replaced = (active.promotion or {}).get("replaced")
    found = others.filter(version=replaced).first() if replaced is not None else None
    return found or others.filter(status=RouterModel.Status.RETIRED).order_by("-version").first()


def examples_first_labeled_after(example_ids: Iterable[int], since: datetime) -> set[int]:
    """Of these examples, those whose first human label is later than ``since`` (no router
    trained before ``since`` can have seen them)."""
    rows = (HumanLabel.objects.filter(example_id__in=list(example_ids)).values("example_id")
            .annotate(first=Min("created_at")).filter(first__gt=since).values_list("example_id", flat=True))
    return set(rows)


def batch_domains(batch: Batch) -> list[Domain]:
    return list(Domain.objects.filter(examples__batch=batch).distinct())


def roster_remaining_capacity(domains: Sequence[Domain]) -> int:
    """Sum of capacity_per_day of active reviewers holding a valid credential that covers any of
    these domains, minus the tasks already waiting for them (open or leased); never negative."""
    credentials = Credential.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()),
        paused=False,
        reviewer__status=ReviewerProfile.Status.ACTIVE,
    )
    reviewer_ids = {c.reviewer_id for c in credentials if any(c.covers(d) for d in domains)}
    reviewers = ReviewerProfile.objects.filter(pk__in=reviewer_ids).annotate(
        waiting=Count("tasks", filter=Q(tasks__status__in=OPEN_TASK_STATUSES))
    )
    return sum(max(0, r.capacity_per_day - r.waiting) for r in reviewers)


def batch_unreviewed_examples(batch: Batch) -> list[Example]:
    """Examples of the batch no reviewer has labeled yet (re-routing may move them)."""
    return list(
        batch.examples.exclude(human_labels__source=HumanLabel.Source.REVIEW).select_related("domain", "batch")
    )
