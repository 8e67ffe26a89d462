"""Reads for the control center: per-batch source ratios, agreement and override rate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Count, QuerySet

from reviewers.models import HumanLabel
from reviewers.references import references_of
from routing.batches.models import Batch, Domain, Example
from routing.decisions.models import RoutingDecision
from routing.monitoring.metrics import Rate, WeightedRate, rates_keys
from routing.monitoring.models import Alarm
from routing.training.selectors import JobRow

from .aggregates import counts_by_batch, rates_by_batch
from .alarms import open_alarms
from .label_accuracy import label_gate_reasons
from .models import ExportJob
from .stats import Figures, batches_figures


def reviewed_reference(batch: Batch) -> dict[int, float]:
    """Per example, the reference from HybridQC reviewers' labels, by the one rule
    (``reviewers.references``: the adjudicator's label if there is one, else the majority)."""
    labels = list(HumanLabel.objects.filter(example__batch=batch, source=HumanLabel.Source.REVIEW)
                  .select_related("task", "example").order_by("created_at", "id"))
    return references_of(labels, {label.example_id: label.example.task for label in labels})


def batch_rates(batch: Batch) -> tuple[WeightedRate, Rate]:
    """(agreement on audited items, override rate on routed items), from stored rows.

    Agreement: the share of judge-kept items whose reviewed reference equals the judge's verdict,
    estimated from the reviewed audits weighted by 1 / their inclusion probability (Hájek), with
    a Wilson interval on the effective sample size. Override: share of routed items with a judge
    verdict whose reviewed reference differs from that verdict."""
    return rates_by_batch([batch.pk])[batch.pk]


_COUNT_KEYS = ("examples", "routed", "judge_kept", "judge_only", "routed_to_human", "audited",
               "human_tasks", "human_done", "unstaffed")


def batch_counts(batch: Batch) -> dict[str, int]:
    """Counts of examples by source (``judge_only``: kept and never seen by a human) and of
    human work done."""
    counts = counts_by_batch([batch.pk])[batch.pk]
    return {k: counts[k] for k in _COUNT_KEYS}


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _report(batch: Batch, f: Figures) -> dict[str, Any]:
    counts, rates, accuracy = f.counts, (f.agreement, f.override), f.label_accuracy
    agreement, override = rates
    n = counts["examples"]
    return {
        "batch": batch.name,
        "status": batch.status,
        **{k: counts[k] for k in _COUNT_KEYS},
        "judge_kept_share": _share(counts["judge_kept"], n),
        "judge_only_share": _share(counts["judge_only"], n),
        "routed_to_human_share": _share(counts["routed_to_human"], n),
        "audited_share": _share(counts["audited"], n),
        "human_done_share": _share(counts["human_done"], counts["human_tasks"]),
        **rates_keys(agreement, override),
        # Estimated in dashboard/label_accuracy.py, cached with the figures above.
        "estimated_label_accuracy": accuracy[0] if accuracy else None,
        "estimated_label_accuracy_ci": accuracy[1:] if accuracy else None,
        "input_drift": batch.input_drift,
    }


def batches_reports(batches: Sequence[Batch]) -> list[dict[str, Any]]:
    """Everything the control center shows for these batches (one page of them), in their order,
    each with its release gate and id. Cost: bounded by the rows of these batches only
    and by the batches changed since they were last shown (dashboard/stats.py explains the cache)."""
    figures = batches_figures(batches)
    alarms = open_alarms()  # one query per page; the batches' domain paths only when there are any
    paths = _domain_paths([d["domain_id"] for f in figures.values() for d in f.domains]) if alarms else {}
    reports = []
    for b in batches:
        f = figures[b.pk]
        report = _report(b, f)
        covering = [a for a in alarms if any(a.covers(paths[d["domain_id"]]) for d in f.domains)]
        report["gate"] = release_gate(report, 1 - b.alpha, alarms=covering)
        report["id"] = b.pk
        reports.append(report)
    return reports


def batch_report(batch: Batch) -> dict[str, Any]:
    """Everything the control center and ``batch_report`` show for one batch."""
    return _report(batch, batches_figures([batch])[batch.pk])


def _domain_paths(domain_ids: list[int]) -> dict[int, str]:
    return dict(Domain.objects.filter(pk__in=set(domain_ids)).values_list("pk", "path"))


def release_gate(report: dict[str, Any], target: float, alarms: list[Alarm] | None = None) -> dict[str, Any]:
    """Whether a batch may go to training: all human work done, and the audit agreement's
    Wilson lower bound at or above the target agreement. Lists every reason it fails."""
    reasons = []
    if report["routed"] < report["examples"]:
        reasons.append(f"{report['examples'] - report['routed']} examples not routed yet")
    if report["human_done"] < report["human_tasks"]:
        reasons.append(f"{report['human_tasks'] - report['human_done']} human tasks open")
    if report["unstaffed"]:
        reasons.append(f"{report['unstaffed']} tasks have no credentialed reviewer")
    ci = report["audit_agreement_ci"]
    if report["judge_kept"] and ci is None:
        reasons.append("no audited item reviewed yet: the judge's agreement is unmeasured")
    elif ci is not None and ci[0] < target:
        reasons.append(f"audit agreement lower bound {ci[0]:.1%} is below the target {target:.0%}")
    reasons += label_gate_reasons(report, alarms)
    return {"passed": not reasons, "reasons": reasons, "target": target}


def batch_domain_rows(batch: Batch) -> list[dict[str, Any]]:
    """Per domain of a batch, by path: decisions (``n``), judge-kept, routed, audited."""
    rows = batches_figures([batch])[batch.pk].domains
    paths = dict(Domain.objects.filter(pk__in=[r["domain_id"] for r in rows]).values_list("pk", "path"))
    named = [{"domain": paths[r["domain_id"]], **{k: v for k, v in r.items() if k != "domain_id"}} for r in rows]
    return sorted(named, key=lambda r: r["domain"])


def batch_decisions(batch: Batch) -> QuerySet[RoutingDecision]:
    """The batch's routing decisions with their reasons, for the decision table (filtered, sorted
    and paginated by dashboard/filters.py; line order through the (batch, line_number) index)."""
    return RoutingDecision.objects.filter(example__batch=batch).select_related("example__domain")


def batch_progress(batch: Batch) -> dict[str, int]:
    """What the status poll shows while a batch is on its way: examples and how many are routed.
    One query, not the figure cache: while a batch is being judged or routed its cached figures are
    dropped at every write, and the poll must stay cheap."""
    return Example.objects.filter(batch=batch).aggregate(examples=Count("id"), routed=Count("decision"))


def batch_export_rows(batch: Batch) -> list[dict[str, Any]]:
    """One row per example for training: the label and where it came from (judge or humans)."""
    reference = reviewed_reference(batch)
    decisions = RoutingDecision.objects.filter(example__batch=batch).select_related("example__domain")
    rows = []
    for d in decisions.order_by("example__line_number"):
        human = reference.get(d.example_id)
        judge = d.judge_rating if d.example.task == "rating" else d.judge_verdict
        source = "human" if human is not None else ("judge" if d.route == "judge" else "pending")
        label = human if human is not None else (judge if d.route == "judge" else None)
        rows.append({
            "id": d.example.external_id, "domain": d.example.domain.path, "task": d.example.task,
            "label": label, "source": source, "route": d.route, "audit": d.audit,
            "judge_verdict": judge, "router_version": d.router_version, "score": d.score,
            "reason": d.reason,
        })
    return rows


def export_job_rows(limit: int) -> list[JobRow]:
    """The latest lineage exports as rows of the jobs list (a failed one has its Retry)."""
    jobs = ExportJob.objects.select_related("batch").order_by("-created_at", "-id")[:limit]
    return [JobRow("export", j.pk, f"export of {j.batch.name} ({j.fmt})", j.status, j.percent,
                   j.error if j.status == ExportJob.Status.FAILED else f"{j.rows_done} of {j.rows_total} rows",
                   j.started_at or j.created_at, j.finished_at, j.batch_id, retry=j.status == ExportJob.Status.FAILED)
            for j in jobs]
