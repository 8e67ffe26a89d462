"""What the trends page's charts draw: every period from the first to the last (a period with no
batch is a null, so the line has a gap there instead of joining its neighbours)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .trends import PERIODS, Split, judge_versions, period_label, source_prefixes, trend_periods, trend_series

SERIES = ("human_share", "judge_only_share", "audit_agreement", "override_rate")
INTERVALS = ("audit_agreement_ci", "override_rate_ci")


def period_start(label: str, by: str) -> datetime.date:
    if by == "month":
        year, month = label.split("-")
        return datetime.date(int(year), int(month), 1)
    year, week = label.split("-W")
    return datetime.date.fromisocalendar(int(year), int(week), 1)


def period_range(first: str, last: str, by: str) -> list[str]:
    """Every period label from ``first`` to ``last`` inclusive."""
    day, end, out = period_start(first, by), period_start(last, by), []
    while day <= end:
        out.append(period_label(day, by))
        # The 28th plus four days is always in the next month.
        day = (day.replace(day=28) + datetime.timedelta(days=4)).replace(day=1) if by == "month" \
            else day + datetime.timedelta(days=7)
    return out


def chart_data(periods: list[dict[str, Any]], by: str) -> dict[str, Any]:
    """Labels and one list per series, aligned, with None where a period has no value."""
    if not periods:
        return {"labels": [], **{s: [] for s in SERIES}, **{f"{i}_low": [] for i in INTERVALS},
                **{f"{i}_high": [] for i in INTERVALS}, "examples": []}
    rows = {p["period"]: p for p in periods}
    labels = period_range(periods[0]["period"], periods[-1]["period"], by)
    out: dict[str, Any] = {"labels": labels, "examples": [rows.get(x, {}).get("examples", 0) for x in labels]}
    for name in SERIES:
        out[name] = [rows.get(x, {}).get(name) for x in labels]
    for name in INTERVALS:
        cis = [rows.get(x, {}).get(name) for x in labels]
        out[f"{name}_low"] = [ci[0] if ci else None for ci in cis]
        out[f"{name}_high"] = [ci[1] if ci else None for ci in cis]
    return out


# One chart per source prefix (the first segment of a domain) or per judge version.
PER = ("source", "judge")


@dataclass(frozen=True)
class ChartQuery:
    """What the trends page shows, from its URL: period length, the domains (a source prefix,
    empty for all), one judge version (empty for all) and what each further chart stands for."""

    by: str = "month"
    source: str = ""
    judge: str = ""
    per: str = "source"


def chart_query(params: Mapping[str, str]) -> ChartQuery:
    """The page's query from its URL parameters; a value that names nothing falls back to all."""
    by, per = params.get("by", "month"), params.get("per", "source")
    source, judge = params.get("source", ""), params.get("judge", "")
    return ChartQuery(by=by if by in PERIODS else "month", source=source if source in source_prefixes() else "",
                      judge=judge if judge in judge_versions() else "", per=per if per in PER else "source")


def _periods(by: str, prefix: str, judge: str) -> list[dict[str, Any]]:
    if not judge:
        return trend_periods(by=by, domain_prefix=prefix or None)
    return trend_series(by=by, domain_prefix=prefix or None, split=Split(judge=True)).get((None, judge), [])


def _chart(i: int, title: str, periods: list[dict[str, Any]], by: str, **keys: str) -> dict[str, Any]:
    data = chart_data(periods, by)
    rows = {p["period"]: p for p in periods}
    return {**keys, "title": title, "data": data, "data_id": f"trend-data-{i}",
            "rows": [rows.get(label, {"period": label}) for label in data["labels"]]}


def trend_charts(query: ChartQuery) -> list[dict[str, Any]]:
    """The selection pooled, then (unless the selection is already one) one chart per source
    prefix or per judge version within it."""
    by, source, judge = query.by, query.source, query.judge
    title = " · ".join(x for x in (source, judge) if x) or "All domains"
    charts = [_chart(0, title, _periods(by, source, judge), by, domain=source, judge=judge)]
    if query.per == "source" and not source:
        for prefix in source_prefixes():
            charts.append(_chart(len(charts), prefix, _periods(by, prefix, judge), by, domain=prefix, judge=judge))
    elif query.per == "judge" and not judge:
        series = trend_series(by=by, domain_prefix=source or None, split=Split(judge=True))
        for (_, version), periods in sorted(series.items(), key=lambda kv: kv[0][1] or ""):
            charts.append(_chart(len(charts), version or "no judge", periods, by, domain=source, judge=version or ""))
    return charts
