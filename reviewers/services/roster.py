"""The roster as CSV: one row per credential, the reviewer's profile repeated on each row.
Import validates every row first and writes nothing if any row is bad."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from hybridqc.roles import REVIEWER

from ..models import Credential, ReviewerProfile
from .errors import ReviewError, RosterCsvError
from .invitations import SiteLink, reviewer_invitations_send
from .matching import unstaffed_restaff

COLUMNS = [
    "username",
    "display_name",
    "email",
    "languages",
    "capacity_per_day",
    "status",
    "timezone",
    "domain_prefix",
    "level",
    "evidence",
    "expires_at",
]
REQUIRED = {"username", "domain_prefix", "level"}
# A spreadsheet runs a cell starting with one of these as a formula: exported cells get a quote.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NOT_A_REVIEWER = "{name!r} is the account of a lead or admin: the roster import only creates or updates reviewers"


def csv_safe(value: object) -> object:
    """A cell a spreadsheet shows as text: one starting like a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _unquoted(raw: str) -> str:
    # What csv_safe added on export comes off on import, so a roster round-trips unchanged.
    return raw[1:] if raw.startswith("'") and raw[1:].startswith(FORMULA_START) else raw


@dataclass
class RosterRow:
    line: int
    values: dict[str, Any]


def _expiry(raw: str) -> datetime | None:
    if not raw:
        return None
    dt = parse_datetime(raw)
    if dt is None and (d := parse_date(raw)) is not None:
        dt = datetime.combine(d, time.max)
    if dt is None:
        raise ValueError("is not a date (use YYYY-MM-DD)")
    return timezone.make_aware(dt) if timezone.is_naive(dt) else dt


def _timezone(raw: str) -> str:
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"is not a time zone name (e.g. Europe/Berlin), got {raw!r}") from None
    return raw


def _cell(column: str, raw: str) -> Any:
    """Parse one cell; raises ValueError with the problem (the caller adds row and column)."""
    raw = _unquoted(raw.strip())
    if column in REQUIRED and not raw:
        raise ValueError("is required")
    if column == "capacity_per_day":
        if not raw:
            return 100
        if not raw.isdigit():
            raise ValueError(f"must be a whole number, got {raw!r}")
        cap = int(getattr(settings, "ROSTER_MAX_CAPACITY_PER_DAY", 1000))
        if len(raw) > 9 or int(raw) > cap:
            raise ValueError(f"must be at most {cap} items per day, got {raw[:20]!r}")
        return int(raw)
    if column == "status":
        if raw and raw not in ReviewerProfile.Status.values:
            raise ValueError(f"must be one of {', '.join(ReviewerProfile.Status.values)}, got {raw!r}")
        return raw or ReviewerProfile.Status.ACTIVE
    if column == "level" and raw not in Credential.Level.values:
        raise ValueError(f"must be one of {', '.join(Credential.Level.values)}, got {raw!r}")
    if column == "expires_at":
        return _expiry(raw)
    if column == "domain_prefix":
        return raw.strip("/")
    if column == "timezone":
        return _timezone(raw or "UTC")
    return raw


def roster_csv_parse(text: str) -> list[RosterRow]:
    """Parse and check a roster CSV; raises ReviewError listing every bad row and column."""
    reader = csv.DictReader(io.StringIO(text))
    missing = REQUIRED - set(reader.fieldnames or [])
    if missing:
        problems = [(1, column, "is missing from the header") for column in sorted(missing)]
        raise RosterCsvError(f"The header lacks the column(s): {', '.join(sorted(missing))}.", problems)
    rows: list[RosterRow] = []
    errors: list[tuple[int, str, str]] = []
    for line, raw in enumerate(reader, start=2):
        values = {}
        for column in COLUMNS:
            try:
                values[column] = _cell(column, raw.get(column) or "")
            except ValueError as exc:
                errors.append((line, column, str(exc)))
        rows.append(RosterRow(line, values))
    errors += _other_role_errors(rows)
    if errors:
        shown = "; ".join(f"row {r}, column {c}: {m}" for r, c, m in errors[:50])
        raise RosterCsvError("Nothing was imported. " + shown, errors)
    if not rows:
        raise ReviewError("The CSV has no rows.")
    return rows


def _other_role_errors(rows: list[RosterRow]) -> list[tuple[int, str, str]]:
    """Rows naming an existing account that is not a reviewer's (staff, superuser, or in any group
    but reviewer): importing them would attach a profile to it and overwrite its email."""
    names = {r.values.get("username") for r in rows} - {None, ""}
    others = set(
        User.objects.filter(username__in=names)
        .filter(Q(is_staff=True) | Q(is_superuser=True) | Q(groups__in=Group.objects.exclude(name=REVIEWER)))
        .values_list("username", flat=True)
    )
    return [(r.line, "username", NOT_A_REVIEWER.format(name=r.values["username"]))
            for r in rows if r.values.get("username") in others]


def _reviewer_upsert(values: dict[str, Any], invited: list[User]) -> ReviewerProfile:
    """Create or update the reviewer; a new account (no password) is added to ``invited``."""
    user, created = User.objects.get_or_create(username=values["username"])
    if created:
        user.set_unusable_password()
        invited.append(user)
    if values["email"]:
        user.email = values["email"]
    user.save()
    user.groups.add(Group.objects.get_or_create(name=REVIEWER)[0])
    profile, _ = ReviewerProfile.objects.update_or_create(
        user=user,
        defaults={
            "display_name": values["display_name"],
            "languages": values["languages"],
            "capacity_per_day": values["capacity_per_day"],
            "status": values["status"],
            "timezone": values["timezone"],
        },
    )
    return profile


def roster_csv_import(*, text: str, verified_by: User, site: SiteLink | None = None) -> int:
    """Create or update reviewers and their credentials from CSV; all or nothing.
    Returns the number of credential rows written. Unstaffed tasks are matched again after; with
    ``site``, every new account with an e-mail address gets an invitation once the import commits."""
    rows = roster_csv_parse(text)
    now = timezone.now()
    invited: list[User] = []
    with transaction.atomic():
        for row in rows:
            v = row.values
            profile = _reviewer_upsert(v, invited)
            Credential.objects.update_or_create(
                reviewer=profile,
                domain_prefix=v["domain_prefix"],
                defaults={
                    "level": v["level"],
                    "evidence": v["evidence"],
                    "expires_at": v["expires_at"],
                    "verified_by": verified_by,
                    "verified_at": now,
                },
            )
        if site is not None:
            transaction.on_commit(lambda: reviewer_invitations_send(users=invited, site=site))
    unstaffed_restaff()
    return len(rows)


def roster_csv_export() -> str:
    """Every credential as one CSV row, in the import format."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for c in Credential.objects.select_related("reviewer__user").order_by("reviewer__user__username", "domain_prefix"):
        p = c.reviewer
        writer.writerow(
            csv_safe(cell) for cell in [
                p.user.username,
                p.display_name,
                p.user.email,
                p.languages,
                p.capacity_per_day,
                p.status,
                p.timezone,
                c.domain_prefix,
                c.level,
                c.evidence,
                c.expires_at.date().isoformat() if c.expires_at else "",
            ]
        )
    return out.getvalue()
