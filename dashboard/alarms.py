"""Trend alarms: the latest period of each domain and judge version tested against its trailing
window. Agreement drift and ceiling drop are one-sided tests that the latest proportion is below
the trailing one (the agreement on Kish's effective sample size, i.e. weighted counts); override
collapse is the same test on the override rate, raised only while the judge keeps a larger share
than before.

The test is the pooled two-proportion z-test where its normal approximation holds, and Fisher's
exact test where it does not: when any cell of the 2x2 table expects fewer than
``EXACT_BELOW_EXPECTED`` counts under the pooled proportion (Cochran's rule; e.g. 12 audits at
85% agreement expect 1.8 disagreements). Fisher's rather than Boschloo's: Fisher's p-value is an
exact hypergeometric tail and costs under a millisecond whatever the counts, while scipy's
``boschloo_exact`` maximizes over a nuisance parameter on a grid at a cost that grows with the
product of the two counts (55 s for 12 latest audits against a 3000-audit window, where the
exact test is still needed because the pooled agreement is high). Fisher's errs conservative, so
a small period pages a lead only on a drop unlikely under any stable rate; the z-test stays
where the counts are large enough for it, as it is the less conservative of the two there."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import Any, NamedTuple

from django.conf import settings
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone
from scipy.stats import fisher_exact, norm

from routing.batches.models import Batch, Domain
from routing.monitoring.models import Alarm

from .trends import Key, Split, domain_filter, source_prefixes, trend_periods, trend_series

# Sent once per newly stored alarm (kwarg ``alarm``): the place a notifier (e.g. a signed
# webhook) connects to, so this module never needs to know about delivery.
alarm_raised = Signal()


# Cochran's rule: below this many expected counts in a cell, the normal approximation is poor.
EXACT_BELOW_EXPECTED = 5.0


class DropTest(NamedTuple):
    """``z`` is the standardized difference whichever test gave ``p_value`` (``method``)."""

    z: float
    p_value: float
    effect: float
    latest: float
    baseline: float
    method: str = Alarm.Method.Z_TEST


def exact_needed(n_latest: float, n_baseline: float, pooled: float) -> bool:
    """Cochran's rule: the smallest expected cell of the 2x2 table under the pooled proportion
    is below EXACT_BELOW_EXPECTED."""
    return min(n_latest, n_baseline) * min(pooled, 1 - pooled) < EXACT_BELOW_EXPECTED


def _fisher_less(latest: float, n_latest: float, baseline: float, n_baseline: float) -> float:
    """Fisher's one-sided p-value that the latest successes are this few, on counts rounded
    to whole items (weighted counts are effective sample sizes)."""
    n1, n2 = round(n_latest), round(n_baseline)
    hits1, hits2 = round(latest * n_latest), round(baseline * n_baseline)
    table = [[hits1, n1 - hits1], [hits2, n2 - hits2]]
    return float(fisher_exact(table, alternative="less").pvalue)


def proportion_drop(latest: float, n_latest: float, baseline: float, n_baseline: float) -> DropTest | None:
    """One-sided test that ``latest`` is below ``baseline``: Fisher's exact test when a cell
    expects fewer than EXACT_BELOW_EXPECTED counts, the pooled z-test otherwise; None when
    either side is empty or the pooled proportion is 0 or 1 (nothing can have moved)."""
    if n_latest <= 0 or n_baseline <= 0:
        return None
    pooled = (latest * n_latest + baseline * n_baseline) / (n_latest + n_baseline)
    variance = pooled * (1 - pooled) * (1 / n_latest + 1 / n_baseline)
    if variance <= 0:
        return None
    z = (latest - baseline) / math.sqrt(variance)
    if exact_needed(n_latest, n_baseline, pooled):
        p_value, method = _fisher_less(latest, n_latest, baseline, n_baseline), Alarm.Method.FISHER
    else:
        p_value, method = float(norm.cdf(z)), Alarm.Method.Z_TEST
    return DropTest(z, p_value, latest - baseline, latest, baseline, method)


def _pooled(rows: Sequence[dict[str, Any]], value: str, n: str) -> tuple[float, float]:
    total = sum(r[n] for r in rows)
    return (sum(r[value] * r[n] for r in rows) / total if total else 0.0), total


def _test(latest: dict[str, Any], trailing: Sequence[dict[str, Any]], value: str, n: str) -> DropTest | None:
    base = [r for r in trailing if r[value] is not None and r[n]]
    if latest[value] is None or not latest[n] or not base:
        return None
    baseline, n_baseline = _pooled(base, value, n)
    return proportion_drop(latest[value], latest[n], baseline, n_baseline)


def series_alarms(rows: Sequence[dict[str, Any]], *, alpha: float, window: int) -> list[tuple[str, DropTest]]:
    """The alarms the latest row of one series raises against the ``window`` rows before it."""
    if len(rows) < 2:
        return []
    latest, trailing = rows[-1], rows[-1 - window:-1]
    found: list[tuple[str, DropTest]] = []
    drift = _test(latest, trailing, "audit_agreement", "audit_agreement_n_eff")
    if drift and drift.p_value < alpha:
        found.append((Alarm.Kind.AGREEMENT_DRIFT, drift))
    ceiling = _test(latest, trailing, "human_share", "examples")
    if ceiling and ceiling.p_value < alpha:
        found.append((Alarm.Kind.CEILING_DROP, ceiling))
    override = _test(latest, trailing, "override_rate", "override_rate_n")
    kept_before, _ = _pooled(trailing, "judge_kept_share", "examples")
    if override and override.p_value < alpha and (latest["judge_kept_share"] or 0) > kept_before:
        found.append((Alarm.Kind.OVERRIDE_COLLAPSE, override))
    return found


_MEASURED: dict[str, str] = {
    Alarm.Kind.AGREEMENT_DRIFT: "audit agreement",
    Alarm.Kind.CEILING_DROP: "share routed to humans",
    Alarm.Kind.OVERRIDE_COLLAPSE: "override rate",
}


def _message(kind: str, domain: str, judge: str, test: DropTest) -> str:
    what = _MEASURED[kind]
    return (f"{domain} ({judge or 'no judge'}): {what} {test.latest:.1%} against {test.baseline:.1%} "
            f"in the trailing window (p = {test.p_value:.2g}, {Alarm.Method(test.method).label})")


def _series(by: str) -> dict[Key, list[dict[str, Any]]]:
    """Every domain path per judge version, and every source prefix (e.g. ``pandalm``) that pools
    several domains: a drift spread thinly over many small domains shows in their pool."""
    series = trend_series(by=by, split=Split(domain=True, judge=True))
    for prefix, n_domains in source_prefixes().items():
        if n_domains > 1:
            pooled = trend_series(by=by, domain_prefix=prefix, split=Split(judge=True))
            series.update({(prefix, judge): rows for (_, judge), rows in pooled.items()})
    return series


def alarms_record(*, by: str = "month") -> list[Alarm]:
    """Test every series' latest period; store each new alarm once and announce it. Returns the
    alarms created now (a re-check of the same data creates none)."""
    alpha, window = settings.ALARM_SIGNIFICANCE, settings.ALARM_WINDOW
    created = []
    for (domain, judge), rows in sorted(_series(by).items(), key=lambda kv: str(kv[0])):
        for kind, test in series_alarms(rows, alpha=alpha, window=window):
            alarm, is_new = Alarm.objects.get_or_create(
                kind=kind, domain=domain or "", judge_version=judge or "", by=by, period=rows[-1]["period"],
                defaults={"p_value": test.p_value, "effect": test.effect, "method": test.method,
                          "message": _message(kind, domain or "", judge or "", test),
                          "details": {**test._asdict(), "alpha": alpha, "window": window}},
            )
            if is_new:
                created.append(alarm)
                transaction.on_commit(partial(alarm_raised.send, sender=Alarm, alarm=alarm))
    return created


def _close(alarm: Alarm, user: Any, status: str) -> bool:
    updated = Alarm.objects.filter(pk=alarm.pk, status=Alarm.Status.OPEN).update(
        status=status, resolved_at=timezone.now(), resolved_by=user)
    return bool(updated)


def alarm_dismiss(*, alarm: Alarm, user: Any) -> bool:
    """Close an open alarm without acting; False when it was already closed."""
    return _close(alarm, user, Alarm.Status.DISMISSED)


@transaction.atomic
def alarm_domain_always_human(*, alarm: Alarm, user: Any) -> bool:
    """Send every future example of the alarm's domain (all domains under it, for a prefix) to
    humans, and close the alarm."""
    if not _close(alarm, user, Alarm.Status.ALWAYS_HUMAN):
        return False
    Domain.objects.filter(domain_filter(alarm.domain, "path")).update(always_human=True)
    return True


def open_alarms() -> list[Alarm]:
    return list(Alarm.objects.filter(status=Alarm.Status.OPEN))


def batch_open_alarms(batch: Batch) -> list[Alarm]:
    """Open alarms on, or on a prefix of, any domain the batch has examples in (they hold its
    release gate). Without an open alarm (the usual case) the batch's domains are not read: that
    read is one aggregate over the batch's examples, the only part of its page that grows with them."""
    alarms = open_alarms()
    if not alarms:
        return []
    paths = set(Domain.objects.filter(examples__batch=batch).distinct().values_list("path", flat=True))
    return [a for a in alarms if any(a.covers(p) for p in paths)]


def alarm_json(alarm: Alarm) -> dict[str, Any]:
    return {"id": alarm.pk, "kind": alarm.kind, "domain": alarm.domain, "judge_version": alarm.judge_version,
            "by": alarm.by, "period": alarm.period, "p_value": alarm.p_value, "method": alarm.method,
            "effect": alarm.effect, "message": alarm.message, "status": alarm.status,
            "created_at": alarm.created_at.isoformat()}


def trends_payload(*, by: str = "month", domain_prefix: str | None = None) -> dict[str, Any]:
    """``{"periods": [...], "alarms": [...]}``: the pooled series and the open alarms of the
    matching domains for this period length (as stored; ``alarms_record`` raises them)."""
    prefix = (domain_prefix or "").strip("/")
    alarms = [a for a in open_alarms() if a.by == by and (not prefix or a.covers(prefix)
                                                          or prefix == a.domain or a.domain.startswith(prefix + "/"))]
    return {"periods": trend_periods(by=by, domain_prefix=domain_prefix), "alarms": [alarm_json(a) for a in alarms]}
