"""Who may review what: credential matching, assignment balanced by remaining capacity (the rule
in reviewers/capacity.py, shared with budget routing), unstaffed tasks. The ORM forms of the
queue's rules (``reviewer_task_q``, ``reviewer_domain_q``, ``reviewer_label_counts``) are the ones
the claim's statements embed, compiled (reviewers/services/pool.py)."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from hybridqc.compiled_sql import CompiledSQL, compile_bound, id_sentinels, ids_bound, queryset_sql
from routing.batches.domains import prefix_q
from routing.batches.models import Example

from ..capacity import remaining_capacity, today_start, valid_credentials
from ..models import (
    LEVEL_ORDER,
    Credential,
    HumanLabel,
    Notification,
    ReviewerProfile,
    ReviewTask,
    TaskSkip,
    level_rank,
)


def levels_up_to(level: str) -> list[str]:
    """Task min_levels a credential of ``level`` satisfies ("" means no minimum)."""
    return ["", *LEVEL_ORDER[: level_rank(level) + 1]]


def reviewer_task_q(credentials: Iterable[Credential], path_field: str = "example__domain__path") -> Q | None:
    """Tasks some credential covers (domain and level); None when there is no credential."""
    q: Q | None = None
    for c in credentials:
        part = prefix_q(c.domain_prefix, path_field) & Q(min_level__in=levels_up_to(c.level))
        q = part if q is None else q | part
    return q


def reviewer_domain_q(credentials: Iterable[Credential], path_field: str = "domain__path") -> Q | None:
    """Domains some credential covers, whatever the level (where gold checks come from); None
    when there is no credential."""
    q: Q | None = None
    for c in credentials:
        part = prefix_q(c.domain_prefix, path_field)
        q = part if q is None else q | part
    return q


def credential_fits(credential: Credential, example: Example, min_level: str) -> bool:
    return credential.covers(example.domain) and level_rank(credential.level) >= level_rank(min_level)


def review_labels(reviewer_id: int) -> QuerySet[HumanLabel]:
    """The labels the reviewer gave in review (not imported ones): what their counts count."""
    return HumanLabel.objects.filter(reviewer_id=reviewer_id, source=HumanLabel.Source.REVIEW)


def label_counts_aggregates(day_start: datetime) -> dict[str, Count]:
    """How ``review_labels`` are counted: given since ``day_start`` (their midnight), in all, on gold checks."""
    return {
        "today": Count("id", filter=Q(created_at__gte=day_start)),
        "total": Count("id"),
        "gold": Count("id", filter=Q(task__kind=ReviewTask.Kind.GOLD)),
    }


def reviewer_label_counts(reviewer: ReviewerProfile) -> dict[str, int]:
    """The reviewer's review labels: given today, in all, and on gold checks (one query)."""
    return review_labels(reviewer.pk).aggregate(**label_counts_aggregates(today_start(reviewer.timezone)))


def pick_reviewer(candidates: Sequence[Credential], capacity: dict[int, int]) -> int | None:
    """The most specific credential's holders first; among equally specific ones, the most
    remaining capacity. None when every candidate is out of capacity (the task stays in the pool)."""
    best: tuple[int, int, int] | None = None
    for c in candidates:
        left = capacity.get(c.reviewer_id, 0)
        if left <= 0:
            continue
        key = (len(c.domain_prefix.strip("/")), left, -c.reviewer_id)
        if best is None or key > best:
            best = key
    return -best[2] if best else None


def _labelers(ids: list[int]) -> QuerySet[Any]:
    return HumanLabel.objects.filter(example_id__in=ids, reviewer__isnull=False).values_list(
        "example_id", "reviewer_id"
    )


def _lease_holders(ids: list[int]) -> QuerySet[Any]:
    return ReviewTask.objects.filter(example_id__in=ids, status=ReviewTask.Status.LEASED).values_list(
        "example_id", "assignee_id"
    )


def _passers(ids: list[int]) -> QuerySet[Any]:
    return TaskSkip.objects.filter(task__example_id__in=ids).values_list("task__example_id", "reviewer_id")


# A submit's second review asks this of one example: its three statements are compiled once per
# process and number of examples (building the querysets cost more CPU than running them).
@functools.lru_cache(maxsize=64)
def _earlier_compiled(vendor: str, n: int) -> list[CompiledSQL]:
    """``earlier_reviewers``' statements for ``n`` examples: (example, reviewer) pairs of their
    labels, leases and passes (per backend)."""
    ids = id_sentinels(n)
    return [compile_bound(lambda rows=rows, **e: queryset_sql(rows(list(e.values()))), **ids)
            for rows in (_labelers, _lease_holders, _passers)]


def earlier_reviewers(example_ids: Iterable[int]) -> dict[int, set[int]]:
    """Per example: reviewers who labeled it, hold a task on it, or passed on it."""
    ids = list(example_ids)
    out: dict[int, set[int]] = defaultdict(set)
    if not ids:  # as the ORM, which runs no query for an empty IN list
        return out
    bound = ids_bound(ids)
    with connection.cursor() as cursor:
        for statement in _earlier_compiled(connection.vendor, len(ids)):
            cursor.execute(statement.sql, statement.bind(**bound))
            for ex, rev in cursor.fetchall():
                out[ex].add(rev)
    return out


def task_staff(
    task: ReviewTask, credentials: Sequence[Credential], capacity: dict[int, int], exclude: set[int]
) -> None:
    """Set the task's status and designated assignee (not saved)."""
    fitting = [
        c for c in credentials if c.reviewer_id not in exclude and credential_fits(c, task.example, task.min_level)
    ]
    if not fitting:
        task.status, task.assignee_id = ReviewTask.Status.UNSTAFFED, None
        return
    assignee = pick_reviewer(fitting, capacity)
    task.status, task.assignee_id = ReviewTask.Status.OPEN, assignee
    if assignee is not None:
        capacity[assignee] -= 1


def review_tasks_create(*, examples: Sequence[Example], kind: str, min_level: str = "") -> list[ReviewTask]:
    """Create one review task per example, matched to credentialed reviewers.

    Open with a designated reviewer (most specific credential, then most remaining capacity),
    open in the shared pool when every matching reviewer is at capacity, or unstaffed when
    nobody holds a matching credential. Earlier labelers of an example are never chosen, so a
    second review or adjudication goes to someone new.
    """
    if not examples:
        return []
    credentials = list(valid_credentials())
    capacity = remaining_capacity(c.reviewer_id for c in credentials)
    exclude = earlier_reviewers(e.pk for e in examples)
    tasks = []
    for example in examples:
        task = ReviewTask(example=example, kind=kind, min_level=min_level)
        task_staff(task, credentials, capacity, exclude.get(example.pk, set()))
        tasks.append(task)
    created = ReviewTask.objects.bulk_create(tasks, batch_size=2000)
    unstaffed_notify(tasks=[t for t in created if t.status == ReviewTask.Status.UNSTAFFED])
    return created


def unstaffed_message(path: str) -> str:
    """The text of a domain's unstaffed notice: also how the notice is found again to resolve it."""
    return f"Tasks in domain {path} have no reviewer with a matching credential."


def unstaffed_notices_resolve() -> int:
    """Resolve the unstaffed notices whose domain has no unstaffed task left (a roster import or a
    new credential staffed it); returns how many. A notice stays while its cause does."""
    still = {
        unstaffed_message(path)
        for path in ReviewTask.objects.filter(status=ReviewTask.Status.UNSTAFFED)
        .values_list("example__domain__path", flat=True)
        .distinct()
    }
    return (
        Notification.objects.filter(kind=Notification.Kind.UNSTAFFED, resolved_at__isnull=True)
        .exclude(message__in=still)
        .update(resolved_at=timezone.now())
    )


def unstaffed_notify(*, tasks: Sequence[ReviewTask]) -> None:
    """Tell admins which domains got work nobody on the roster may take (one open notice per
    domain: a later batch for the same domain does not pile up more notices)."""
    if not tasks:  # nothing to tell: no need to read the open notices (a second review's usual case)
        return
    domains = sorted({t.example.domain.path for t in tasks})
    open_notices = set(
        Notification.objects.filter(kind=Notification.Kind.UNSTAFFED, resolved_at__isnull=True)
        .values_list("message", flat=True)
    )
    for path in domains:
        message = unstaffed_message(path)
        if message not in open_notices:
            Notification.objects.create(kind=Notification.Kind.UNSTAFFED, message=message)


def tasks_restaff(*, tasks: Sequence[ReviewTask]) -> int:
    """Match these tasks again (e.g. after a skip, an escalation or new credentials); saves them.
    Returns how many now have someone who may review them."""
    credentials = list(valid_credentials())
    capacity = remaining_capacity(c.reviewer_id for c in credentials)
    exclude = earlier_reviewers(t.example_id for t in tasks)
    staffed = 0
    for task in tasks:
        task_staff(task, credentials, capacity, exclude.get(task.example_id, set()))
        task.lease_expires_at = task.claimed_at = None
        staffed += task.status == ReviewTask.Status.OPEN
    ReviewTask.objects.bulk_update(tasks, ["status", "assignee", "lease_expires_at", "claimed_at"], batch_size=2000)
    return staffed


def unstaffed_restaff() -> int:
    """Re-match every unstaffed task; called when credentials change and by the beat task."""
    with transaction.atomic():
        tasks = list(
            ReviewTask.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=ReviewTask.Status.UNSTAFFED)
            .select_related("example__domain")
        )
        staffed = tasks_restaff(tasks=tasks) if tasks else 0
        unstaffed_notices_resolve()
        return staffed
