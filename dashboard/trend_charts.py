"""What the trends page's charts draw: every period from the first to the last (a period with no
batch is a null, so the line has a gap there instead of joining its neighbours)."""

from __future__ import annotations

import datetime
from typing import Any

from .trends import period_label, source_prefixes, trend_periods

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


def trend_charts(by: str) -> list[dict[str, Any]]:
    """One chart set for all domains pooled, then one per top-level domain."""
    charts = []
    for i, prefix in enumerate(["", *source_prefixes()]):
        periods = trend_periods(by=by, domain_prefix=prefix or None)
        data = chart_data(periods, by)
        rows = {p["period"]: p for p in periods}
        charts.append({"domain": prefix, "title": prefix or "All domains", "data": data, "data_id": f"trend-data-{i}",
                       "rows": [rows.get(label, {"period": label}) for label in data["labels"]]})
    return charts
