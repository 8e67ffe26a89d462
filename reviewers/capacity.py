"""Selectors for who is on the roster now and how much work each reviewer can still take today.

``remaining_capacity`` is the one capacity rule: assignment (services/matching.py) balances tasks
by it and budget routing sizes the human share with it (``roster_remaining_capacity`` sums it, and
``hybridqc.flows`` passes the sum to routing as an argument), so the router never plans for more
reviews than assignment will hand out.

Why a module of its own: it imports only ``reviewers.models`` (and the SQL compiler helpers), so
the services and the selectors can both import it without a cycle (``reviewers/selectors.py``
imports ``reviewers.services``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from hybridqc.compiled_sql import SENTINEL_TIME, CompiledSQL, compile_bound, id_sentinels, ids_bound, queryset_sql
from routing.batches.models import Domain

from .models import Credential, HumanLabel, ReviewerProfile, ReviewTask

WAITING_STATUSES = [ReviewTask.Status.OPEN, ReviewTask.Status.LEASED]


def valid_credentials(now: datetime | None = None) -> QuerySet[Credential]:
    """Credentials usable at ``now`` (default: right now): unexpired, not paused, of an active
    reviewer. The one query form of ``Credential.is_valid``; the review queue's claim embeds its
    compiled SQL (reviewers/services/pool.py)."""
    return Credential.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now or timezone.now()),
        paused=False,
        reviewer__status=ReviewerProfile.Status.ACTIVE,
    )


def today_start(tz_name: str | None = None) -> datetime:
    """Midnight of today, in the reviewer's time zone when given (else the server's)."""
    try:
        tz = ZoneInfo(tz_name) if tz_name else timezone.get_current_timezone()
    except (ZoneInfoNotFoundError, ValueError):
        tz = timezone.get_current_timezone()
    return datetime.combine(timezone.localdate(timezone=tz), time.min, tzinfo=tz)


def _labels_today(ids: list[int], day: datetime) -> QuerySet[HumanLabel, Any]:
    return HumanLabel.objects.filter(reviewer_id__in=ids, created_at__gte=day).values_list("reviewer_id").annotate(
        n=Count("id")
    )


def _tasks_waiting(ids: list[int]) -> QuerySet[ReviewTask, Any]:
    return ReviewTask.objects.filter(assignee_id__in=ids, status__in=WAITING_STATUSES).values_list(
        "assignee_id"
    ).annotate(n=Count("id"))


def _capacities(ids: list[int]) -> QuerySet[ReviewerProfile, Any]:
    # Unordered: the profiles' default order (by username) joins the users for nothing here.
    return ReviewerProfile.objects.filter(pk__in=ids).values_list("id", "capacity_per_day").order_by()


# Every second review a submit sets off (and every batch's assignment) works out the capacity of the
# whole roster: building these three querysets cost more CPU than running them, so each is compiled
# once per process and number of reviewers, the ids and the day's start bound per call.
@functools.lru_cache(maxsize=64)
def _capacity_compiled(vendor: str, n: int) -> tuple[CompiledSQL, CompiledSQL, CompiledSQL]:
    """``remaining_capacity``'s three grouped statements for ``n`` reviewers: labels given today,
    tasks waiting, capacities per day (per backend)."""
    ids = id_sentinels(n)

    def done(day: datetime, **r: int) -> tuple[str, list[Any]]:
        return queryset_sql(_labels_today(list(r.values()), day))

    return (
        compile_bound(done, day=SENTINEL_TIME, **ids),
        compile_bound(lambda **r: queryset_sql(_tasks_waiting(list(r.values()))), **ids),
        compile_bound(lambda **r: queryset_sql(_capacities(list(r.values()))), **ids),
    )


def remaining_capacity(reviewer_ids: Iterable[int]) -> dict[int, int]:
    """Per reviewer: capacity per day minus labels given today minus tasks waiting for them
    (open or leased), never below 0. Three grouped queries whatever the number of reviewers."""
    ids = list(set(reviewer_ids))
    if not ids:  # as the ORM, which runs no query for an empty IN list
        return {}
    statements, bound = _capacity_compiled(connection.vendor, len(ids)), ids_bound(ids)
    values: list[dict[str, Any]] = [{**bound, "day": today_start()}, bound, bound]
    with connection.cursor() as cursor:
        found = []
        for statement, bind in zip(statements, values, strict=True):
            cursor.execute(statement.sql, statement.bind(**bind))
            found.append(dict(cursor.fetchall()))
    done, waiting, capacity = found
    return {r: max(0, capacity.get(r, 0) - done.get(r, 0) - waiting.get(r, 0)) for r in ids}


def roster_remaining_capacity(domains: Sequence[Domain]) -> int:
    """What the roster can still review today for these domains: ``remaining_capacity`` summed
    over active reviewers holding a valid credential that covers any of them."""
    reviewer_ids = {c.reviewer_id for c in valid_credentials() if any(c.covers(d) for d in domains)}
    return sum(remaining_capacity(reviewer_ids).values())
