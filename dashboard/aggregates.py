"""The control center's figures for a set of batches, from SQL aggregates over only those batches.

Why aggregates and not kept statistics: the figures (counts, the weighted audit agreement, the
override rate) change wherever decisions, tasks or labels change — routing,
re-routing, label submit, adjudication, label import — in three apps. A statistics table would have
to be updated in every one of those transactions, and one missed path would show a wrong figure
silently. Computing per page needs no bookkeeping: a page asks for its 25 batches only, and every
query here is restricted to those batches' examples through the ``routing_example (batch_id, ...)``
indexes, so the cost of a page is bounded by the size of the batches on it, never by how many rows
are stored in all. The one input kept per row is the reviewed reference (``Example.reviewed_reference``,
written with the labels by the one Python rule, so SQL never re-derives it). The few rows that carry
one are fetched, with whether the judge agrees with it (the agreement rule's SQL form), so the
tested pure rules (``weighted_rate``, ``rate``) compute the rates exactly as before.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import Count, Q

from reviewers.models import ReviewTask
from routing.batches.models import Example
from routing.decisions.models import RoutingDecision
from routing.monitoring.agreement import agreement_sql, judge_verdict_sql
from routing.monitoring.metrics import Rate, WeightedRate, rate, weighted_rate


class Reviewed(NamedTuple):
    """One routed or audited decision whose example has a reviewed reference."""

    batch_id: int
    example_id: int
    route: str
    audit: bool
    audit_probability: float | None
    task: str
    reference: float
    judge: float
    agree: bool


def _placeholders(ids: Sequence[int]) -> str:
    return ", ".join(["%s"] * len(ids))


# The routed or audited decisions of the examples ``scope`` (SQL on the example ``e``) admits that
# have a reviewed reference (stored on the example by ``reviewers.services.references``, from the
# one rule) and a judge verdict, and whether the two agree (``agree``: the agreement rule's one SQL
# form, ``routing.monitoring.agreement.agreement_expression``, compiled on these columns).
# The judge's verdict (``judge``) is the rule's one SQL form too (``judge_verdict_expression``); the
# inner query names it once, so the outer one can test and compare it.
_REVIEWED_SQL = """
SELECT r.batch_id, r.example_id, r.route, r.audit, r.audit_probability, r.task, r.v, r.judge, {agree} AS agree
FROM (
    SELECT e.batch_id, d.example_id, d.route, d.audit, d.audit_probability, e.task, e.reviewed_reference AS v,
           {judge} AS judge
    FROM {decision} d JOIN {example} e ON e.id = d.example_id
    WHERE {scope} AND (d.route = 'human' OR d.audit = %s) AND e.reviewed_reference IS NOT NULL
) r
WHERE r.judge IS NOT NULL
"""


def reviewed_sql(scope: str) -> tuple[str, list[Any]]:
    """The reviewed decisions of the examples ``scope`` (SQL on ``e``) admits, and the parameters
    that come first (the agreement's); then come the scope's, then True (the audit flag). Columns:
    batch, example, route, audit, audit probability, task, reference, judge, agree."""
    agree, agree_params = agreement_sql("r.task", "r.v", "r.judge")
    judge, judge_params = judge_verdict_sql("e.task", "d.judge_rating", "d.judge_verdict")
    sql = _REVIEWED_SQL.format(decision=RoutingDecision._meta.db_table, example=Example._meta.db_table,
                               scope=scope, judge=judge, agree=agree)
    return sql, [*agree_params, *judge_params]


def reviewed_rows(batch_ids: Sequence[int]) -> list[Reviewed]:
    """Routed or audited decisions of these batches with a reviewed reference and a judge verdict."""
    if not batch_ids:
        return []
    sql, params = reviewed_sql(f"e.batch_id IN ({_placeholders(batch_ids)})")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *batch_ids, True])
        return [Reviewed(r[0], r[1], r[2], bool(r[3]), r[4], r[5], float(r[6]), float(r[7]), r[8])
                for r in cursor.fetchall()]


def _audit_probabilities(audits: list[Reviewed]) -> list[float]:
    """Each audit's inclusion probability. Audits routed before probabilities were stored have
    none; then every audit of the batch counts equally (what the unweighted figure assumed)."""
    probabilities = [a.audit_probability for a in audits]
    if any(p is None for p in probabilities):
        return [1.0] * len(audits)
    return [float(p) for p in probabilities if p is not None]


def rates_by_batch(batch_ids: Sequence[int]) -> dict[int, tuple[WeightedRate, Rate]]:
    """Per batch: (weighted audit agreement, override rate on routed items)."""
    audits: dict[int, list[tuple[Reviewed, bool]]] = defaultdict(list)
    routed: dict[int, list[bool]] = defaultdict(list)
    for row in reviewed_rows(batch_ids):
        agree = row.agree
        if row.audit:
            audits[row.batch_id].append((row, agree))
        if row.route == RoutingDecision.Route.HUMAN:
            routed[row.batch_id].append(agree)
    out = {}
    for batch_id in batch_ids:
        batch_audits = audits.get(batch_id, [])
        agreement = weighted_rate([a for _, a in batch_audits], _audit_probabilities([r for r, _ in batch_audits]))
        same = routed.get(batch_id, [])
        out[batch_id] = (agreement, rate(len(same) - sum(same), len(same)))
    return out


_ZERO_COUNTS = {"examples": 0, "routed": 0, "judge_kept": 0, "routed_to_human": 0, "audited": 0,
                "human_tasks": 0, "human_done": 0, "unstaffed": 0}


_DECISION_COUNTS = ("examples", "routed", "judge_kept", "routed_to_human", "audited")


def tallies_by_batch(batch_ids: Sequence[int]) -> dict[int, tuple[dict[str, int], list[dict[str, int]]]]:
    """Per batch: (counts, per-domain rows). Counts: examples, decisions by source (``judge_only``:
    kept, never seen by a human) and human work; per domain id with at least one decision: ``n``
    decisions, ``judge_kept``, ``human``, ``audited``. Two grouped queries over only these
    batches' examples (the domain rows are the parts the batch's counts are summed from)."""
    out: dict[int, tuple[dict[str, int], list[dict[str, int]]]] = {b: (dict(_ZERO_COUNTS), []) for b in batch_ids}
    examples = (
        Example.objects.filter(batch_id__in=batch_ids).order_by().values("batch_id", "domain_id").annotate(
            examples=Count("id"), routed=Count("decision"),
            judge_kept=Count("decision", filter=Q(decision__route=RoutingDecision.Route.JUDGE)),
            routed_to_human=Count("decision", filter=Q(decision__route=RoutingDecision.Route.HUMAN)),
            audited=Count("decision", filter=Q(decision__audit=True)),
        )
    )
    for row in examples:
        counts, domains = out[row["batch_id"]]
        values: dict[str, Any] = dict(row)
        for key in _DECISION_COUNTS:
            counts[key] += values[key]
        if row["routed"]:
            domains.append({"domain_id": row["domain_id"], "n": row["routed"], "judge_kept": row["judge_kept"],
                            "human": row["routed_to_human"], "audited": row["audited"]})
    tasks = (
        ReviewTask.objects.filter(example__batch_id__in=batch_ids).order_by().values("example__batch_id").annotate(
            human_tasks=Count("id"), human_done=Count("id", filter=Q(status=ReviewTask.Status.DONE)),
            unstaffed=Count("id", filter=Q(status=ReviewTask.Status.UNSTAFFED)),
        )
    )
    for task_row in tasks:
        counts = out[task_row["example__batch_id"]][0]
        counts.update(human_tasks=task_row["human_tasks"], human_done=task_row["human_done"],
                      unstaffed=task_row["unstaffed"])
    for counts, _ in out.values():
        counts["judge_only"] = counts["judge_kept"] - counts["audited"]
    return out


def counts_by_batch(batch_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Per batch: the counts of ``tallies_by_batch``."""
    return {b: counts for b, (counts, _) in tallies_by_batch(batch_ids).items()}
