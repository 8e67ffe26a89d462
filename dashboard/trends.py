"""The three numbers over time: per period (month or ISO week of the batch date), and per domain
and judge version when asked, from stored rows. Counts are SQL aggregates; only the reviewed
audits and routed items (the small human-labelled part) are read row by row, to apply the same
metric functions as the per-batch report."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth, TruncWeek

from reviewers.models import HumanLabel
from reviewers.references import references_of
from routing.metrics import labels_agree, rate, rates_keys, weighted_rate
from routing.models import Domain, Example, RoutingDecision

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
    if not prefix:
        return Q()
    prefix = prefix.strip("/")
    return Q(**{path: prefix}) | Q(**{f"{path}__startswith": prefix + "/"})


@dataclass
class _Cell:
    """What one period of one series accumulates."""

    examples: int = 0
    human: int = 0
    judge_kept: int = 0
    judge_only: int = 0
    judges: set[str] = field(default_factory=set)
    audits: list[tuple[bool, float]] = field(default_factory=list)
    routed: list[bool] = field(default_factory=list)


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
    """Per example of the given decisions: the reference of its review labels, by the one rule
    (``reviewers.references``: the adjudicator's label, else the strict majority)."""
    labels = (
        HumanLabel.objects.filter(source=HumanLabel.Source.REVIEW, example__decision__in=decisions)
        .select_related("task", "example").order_by("example_id", "created_at", "id")
    )
    rows = list(labels)
    return references_of(rows, {label.example_id: label.example.task for label in rows})


def _reviewed_decisions(prefix: str | None) -> QuerySet[RoutingDecision]:
    human_seen = Q(audit=True) | Q(route=RoutingDecision.Route.HUMAN)
    return RoutingDecision.objects.filter(human_seen, domain_filter(prefix, "example__domain__path"))


def _label_cells(by: str, prefix: str | None, split: Split, cells: dict[Key, dict[str, _Cell]]) -> None:
    decisions = _reviewed_decisions(prefix)
    reference = reviewed_references(decisions)
    rows = decisions.filter(example_id__in=list(reference)).annotate(day=_trunc(by, "example__")).values(
        "example_id", "example__task", "example__batch_id", "day", "audit", "route", "audit_probability",
        "judge_verdict", "judge_rating", "example__domain__path", "example__batch__primary_judge",
    )
    # An audit routed before probabilities were stored has none; then its whole batch counts
    # its audits equally, as the per-batch report does.
    unweighted = {r["example__batch_id"] for r in rows if r["audit"] and r["audit_probability"] is None}
    for row in rows:
        task = row["example__task"]
        judge = row["judge_rating"] if task == "rating" else row["judge_verdict"]
        agree = labels_agree(task, reference[row["example_id"]], judge)
        if agree is None:
            continue
        key = split.key(row["example__domain__path"], row["example__batch__primary_judge"])
        cell = cells[key][period_label(row["day"], by)]
        if row["audit"]:
            p = row["audit_probability"]
            cell.audits.append((agree, 1.0 if row["example__batch_id"] in unweighted or p is None else float(p)))
        if row["route"] == RoutingDecision.Route.HUMAN:
            cell.routed.append(agree)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _period_row(period: str, cell: _Cell) -> dict[str, Any]:
    agreement = weighted_rate([a for a, _ in cell.audits], [p for _, p in cell.audits])
    override = rate(sum(not a for a in cell.routed), len(cell.routed))
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
