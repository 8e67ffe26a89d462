"""The three numbers over time: per period (month or ISO week of the batch date), and per domain
and judge version when asked, from stored rows, all in SQL aggregates: one grouped count query and
one grouped query of the reviewed rates' sums, so memory does not grow with the rows stored."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth, TruncWeek

from hybridqc.compiled_sql import queryset_sql
from routing.batches.domains import prefix_q
from routing.batches.models import Batch, Domain, Example
from routing.decisions.models import RoutingDecision
from routing.monitoring.metrics import NO_WEIGHTS, WeightSums, rate, rates_keys, weighted_rate_of_sums

from .aggregates import reviewed_sql

PERIODS = ("month", "week")
# A series key: (domain path, judge version), None where the series pools them.
Key = tuple[str | None, str | None]


def period_label(day: datetime.date, by: str) -> str:
    """``2026-11`` for a month, ``2026-W47`` for an ISO week (ISO year, so late December can
    belong to week 1 of the next year)."""
    if by == "month":
        return f"{day.year:04d}-{day.month:02d}"
    iso = day.isocalendar()
    return f"{iso.year:04d}-W{iso.week:02d}"


def _trunc(by: str, prefix: str) -> TruncMonth | TruncWeek:
    if by not in PERIODS:
        raise ValueError(f"by must be one of {', '.join(PERIODS)}, not {by!r}")
    return (TruncMonth if by == "month" else TruncWeek)(f"{prefix}batch__date")


def domain_filter(prefix: str | None, path: str) -> Q:
    """Domain-prefix coverage (``prefix_q``) on ``path``; no prefix (or only slashes) is no filter."""
    return prefix_q(prefix, path) if prefix and prefix.strip("/") else Q()


@dataclass
class _Cell:
    """What one period of one series accumulates."""

    examples: int = 0
    human: int = 0
    judge_kept: int = 0
    judge_only: int = 0
    judges: set[str] = field(default_factory=set)
    audits: WeightSums = NO_WEIGHTS
    routed: int = 0
    overturned: int = 0


@dataclass(frozen=True)
class Split:
    """Which series to keep apart: per domain path, per judge version, both or neither."""

    domain: bool = False
    judge: bool = False

    def key(self, path: str, judge: str) -> Key:
        return (path if self.domain else None, judge if self.judge else None)


def _count_cells(by: str, prefix: str | None, split: Split, cells: dict[Key, dict[str, _Cell]]) -> None:
    examples = Example.objects.filter(domain_filter(prefix, "domain__path"))
    rows = (
        examples.annotate(day=_trunc(by, "")).values("day", "domain__path", "batch__primary_judge")
        .annotate(
            examples=Count("id"),
            human=Count("id", filter=Q(decision__route="human")),
            judge_kept=Count("id", filter=Q(decision__route="judge")),
            judge_only=Count("id", filter=Q(decision__route="judge", decision__audit=False)),
        )
    )
    for row in rows:
        cell = cells[split.key(row["domain__path"], row["batch__primary_judge"])][period_label(row["day"], by)]
        cell.examples += row["examples"]
        cell.human += row["human"]
        cell.judge_kept += row["judge_kept"]
        cell.judge_only += row["judge_only"]
        if row["batch__primary_judge"]:
            cell.judges.add(row["batch__primary_judge"])


def reviewed_references(decisions: QuerySet[RoutingDecision]) -> dict[int, float]:
    """Per example of the given decisions that has one: its reviewed reference (stored with its
    labels by the one rule, ``reviewers.references``: the adjudicator's label, else the strict majority)."""
    rows = Example.objects.filter(decision__in=decisions, reviewed_reference__isnull=False).order_by()
    return {pk: float(v) for pk, v in rows.values_list("pk", "reviewed_reference") if v is not None}


# Per batch date, domain and judge: the sums the agreement and override rates are made of, over
# the reviewed rows of ``reviewed_sql`` (whose ``agree`` is the agreement rule's one SQL form). A batch
# with an audit routed before probabilities were stored counts all its audits equally, as the
# per-batch report does. Weights are NUMERIC so sums of equal weights stay exact.
_RATES_SQL = """
SELECT b.date, dom.path, b.primary_judge,
    sum(CASE WHEN r.audit THEN 1 ELSE 0 END), sum(CASE WHEN r.audit AND r.agree THEN 1 ELSE 0 END),
    sum(CASE WHEN r.audit THEN r.w ELSE 0 END), sum(CASE WHEN r.audit AND r.agree THEN r.w ELSE 0 END),
    sum(CASE WHEN r.audit THEN r.w * r.w ELSE 0 END),
    sum(CASE WHEN r.route = 'human' THEN 1 ELSE 0 END),
    sum(CASE WHEN r.route = 'human' AND NOT r.agree THEN 1 ELSE 0 END)
FROM (
    SELECT x.batch_id, x.example_id, x.route, x.audit,
        CASE WHEN max(CASE WHEN x.audit AND x.audit_probability IS NULL THEN 1 ELSE 0 END)
                  OVER (PARTITION BY x.batch_id) = 1 OR x.audit_probability IS NULL THEN CAST(1 AS NUMERIC)
             ELSE CAST(1 AS NUMERIC) / CAST(x.audit_probability AS NUMERIC) END AS w,
        x.agree
    FROM ({reference}) x
) r
JOIN {batch} b ON b.id = r.batch_id JOIN {example} e ON e.id = r.example_id JOIN {domain} dom ON dom.id = e.domain_id
GROUP BY b.date, dom.path, b.primary_judge
"""


def _rate_rows(prefix: str | None) -> list[tuple[Any, ...]]:
    scope, params = "1 = 1", list[Any]()
    if prefix and prefix.strip("/"):
        # Coverage is ``prefix_q``'s, compiled; the prefix goes in as parameters.
        domains, params = queryset_sql(Domain.objects.filter(domain_filter(prefix, "path")).order_by().values("id"))
        scope = f"e.domain_id IN ({domains})"
    reviewed, reviewed_params = reviewed_sql(scope)
    sql = _RATES_SQL.format(reference=reviewed, batch=Batch._meta.db_table,
                            example=Example._meta.db_table, domain=Domain._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*reviewed_params, *params, True])
        return cursor.fetchall()


def _label_cells(by: str, prefix: str | None, split: Split, cells: dict[Key, dict[str, _Cell]]) -> None:
    for day, path, judge, audits, hits, total, hit_total, square_total, routed, overturned in _rate_rows(prefix):
        cell = cells[split.key(path, judge)][period_label(day, by)]
        cell.audits = cell.audits.plus(WeightSums(
            int(hits), int(audits), Fraction(total), Fraction(hit_total), Fraction(square_total)))
        cell.routed += int(routed)
        cell.overturned += int(overturned)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _period_row(period: str, cell: _Cell) -> dict[str, Any]:
    agreement = weighted_rate_of_sums(cell.audits)
    override = rate(cell.overturned, cell.routed)
    return {
        "period": period,
        "examples": cell.examples,
        "routed_to_human": cell.human,
        "judge_kept": cell.judge_kept,
        "judge_only": cell.judge_only,
        "human_share": _share(cell.human, cell.examples),
        "judge_kept_share": _share(cell.judge_kept, cell.examples),
        "judge_only_share": _share(cell.judge_only, cell.examples),
        **rates_keys(agreement, override),
        "judge_versions": sorted(cell.judges),
    }


def trend_series(*, by: str = "month", domain_prefix: str | None = None, split: Split = Split()
                 ) -> dict[Key, list[dict[str, Any]]]:
    """Per series (all matching domains pooled, or kept apart by domain and/or judge version):
    one row per period that has examples, oldest first."""
    cells: dict[Key, dict[str, _Cell]] = defaultdict(lambda: defaultdict(_Cell))
    _count_cells(by, domain_prefix, split, cells)
    _label_cells(by, domain_prefix, split, cells)
    return {key: [_period_row(p, periods[p]) for p in sorted(periods)] for key, periods in cells.items()}


def trend_periods(*, by: str = "month", domain_prefix: str | None = None) -> list[dict[str, Any]]:
    """The pooled series of ``trends --json`` and ``/api/control/trends/``."""
    return trend_series(by=by, domain_prefix=domain_prefix).get((None, None), [])


def source_prefixes() -> dict[str, int]:
    """The first segment of every domain with examples (the data sources, e.g. ``mtbench``) and
    how many such domains it covers."""
    paths = Domain.objects.filter(examples__isnull=False).values_list("path", flat=True).distinct()
    counts: dict[str, int] = defaultdict(int)
    for path in paths:
        counts[path.split("/")[0]] += 1
    return dict(sorted(counts.items()))


def judge_versions() -> list[str]:
    """Every judge version (a batch's primary judge) that judged a batch with examples."""
    names = Batch.objects.filter(examples__isnull=False).exclude(primary_judge="").values_list(
        "primary_judge", flat=True).distinct()
    return sorted(set(names))
