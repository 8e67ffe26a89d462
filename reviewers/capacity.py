"""Selectors for who is on the roster now and how much work each reviewer can still take today.

``remaining_capacity`` is the one capacity rule: assignment (services/matching.py) balances tasks
by it and budget routing sizes the human share with it (``routing.selectors.roster_remaining_capacity``
sums it), so the router never plans for more reviews than assignment will hand out.

Why a module of its own: it imports only ``reviewers.models``, so both sides can import it
without a cycle. ``reviewers/selectors.py`` imports ``reviewers.services`` (gold accuracy), so the
services could not import a rule kept there; and keeping the rule in ``routing`` would make the
reviewer side import routing's selectors. Routing reaches it only through ``routing/selectors.py``,
the one routing module that already reads reviewer rows, so no routing service imports it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from .models import Credential, HumanLabel, ReviewerProfile, ReviewTask

WAITING_STATUSES = [ReviewTask.Status.OPEN, ReviewTask.Status.LEASED]


def valid_credentials() -> QuerySet[Credential]:
    """Credentials usable right now: unexpired, not paused, of an active reviewer."""
    now = timezone.now()
    return Credential.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now),
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


def remaining_capacity(reviewer_ids: Iterable[int]) -> dict[int, int]:
    """Per reviewer: capacity per day minus labels given today minus tasks waiting for them
    (open or leased), never below 0. Three grouped queries whatever the number of reviewers."""
    ids = list(set(reviewer_ids))
    done = dict(
        HumanLabel.objects.filter(reviewer_id__in=ids, created_at__gte=today_start())
        .values_list("reviewer_id")
        .annotate(n=Count("id"))
    )
    waiting = dict(
        ReviewTask.objects.filter(assignee_id__in=ids, status__in=WAITING_STATUSES)
        .values_list("assignee_id")
        .annotate(n=Count("id"))
    )
    capacity = dict(ReviewerProfile.objects.filter(pk__in=ids).values_list("id", "capacity_per_day"))
    return {r: max(0, capacity.get(r, 0) - done.get(r, 0) - waiting.get(r, 0)) for r in ids}
