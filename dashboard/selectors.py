"""Reads for the control center: per-batch source ratios, agreement and override rate."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Count, Q

from reviewers.models import HumanLabel, ReviewTask
from routing.metrics import Rate, WeightedRate, labels_agree, majority_label, rate, weighted_rate
from routing.models import Batch, RoutingDecision
from routing.selectors import batch_decision_counts

from .label_accuracy import label_accuracy_keys, label_gate_reasons


def _value(label: HumanLabel, task: str) -> float | None:
    return label.rating if task == "rating" else label.choice


def reviewed_reference(batch: Batch) -> dict[int, float]:
    """Per example, the reference from HybridQC reviewers' labels: the adjudicator's label if
    there is one, else the majority of review labels (a tie gives no reference)."""
    labels: dict[int, list[HumanLabel]] = defaultdict(list)
    qs = HumanLabel.objects.filter(example__batch=batch, source=HumanLabel.Source.REVIEW)
    for label in qs.select_related("task", "example"):
        labels[label.example_id].append(label)
    out: dict[int, float] = {}
    for example_id, items in labels.items():
        task = items[0].example.task
        adjudicated = [x for x in items if x.task and x.task.kind == ReviewTask.Kind.ADJUDICATION]
        chosen = adjudicated[-1:] or items
        ref = majority_label([v for x in chosen if (v := _value(x, task)) is not None])
        if ref is not None:
            out[example_id] = ref
    return out


def _agreement(decisions: Any, reference: dict[int, float]) -> list[tuple[RoutingDecision, bool]]:
    """(decision, whether the judge's verdict equals the reviewed reference) where both exist."""
    out = []
    for d in decisions:
        judge = d.judge_rating if d.example.task == "rating" else d.judge_verdict
        agree = labels_agree(d.example.task, reference.get(d.example_id), judge)
        if agree is not None:
            out.append((d, agree))
    return out


def _audit_probabilities(audited: list[RoutingDecision]) -> list[float]:
    """Each audit's inclusion probability. Audits routed before probabilities were stored have
    none; then every audit of the batch counts equally (what the unweighted figure assumed)."""
    probabilities = [d.audit_probability for d in audited]
    if any(p is None for p in probabilities):
        return [1.0] * len(audited)
    return [float(p) for p in probabilities if p is not None]


def batch_rates(batch: Batch) -> tuple[WeightedRate, Rate]:
    """(agreement on audited items, override rate on routed items), from stored rows.

    Agreement: the share of judge-kept items whose reviewed reference equals the judge's verdict,
    estimated from the reviewed audits weighted by 1 / their inclusion probability (Hájek), with
    a Wilson interval on the effective sample size. Override: share of routed items with a judge
    verdict whose reviewed reference differs from that verdict."""
    reference = reviewed_reference(batch)
    decisions = RoutingDecision.objects.filter(example__batch=batch).select_related("example")
    audits = _agreement([d for d in decisions if d.audit], reference)
    routed = _agreement([d for d in decisions if d.route == RoutingDecision.Route.HUMAN], reference)
    agreement = weighted_rate([a for _, a in audits], _audit_probabilities([d for d, _ in audits]))
    same = sum(a for _, a in routed)
    return agreement, rate(len(routed) - same, len(routed))


def batch_counts(batch: Batch) -> dict[str, int]:
    """Counts of examples by source (``judge_only``: kept and never seen by a human) and of
    human work done."""
    d = batch_decision_counts(batch)
    t = ReviewTask.objects.filter(example__batch=batch).aggregate(
        total=Count("id"), done=Count("id", filter=Q(status="done")),
        unstaffed=Count("id", filter=Q(status="unstaffed")),
    )
    return {
        "examples": batch.examples.count(),
        "routed": d["routed"],
        "judge_kept": d["judge_kept"],
        "judge_only": d["judge_only"],
        "routed_to_human": d["routed_to_human"],
        "audited": d["audited"],
        "human_tasks": t["total"],
        "human_done": t["done"],
        "unstaffed": t["unstaffed"],
    }


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def batch_report(batch: Batch) -> dict[str, Any]:
    """Everything the control center and ``batch_report`` show for one batch."""
    counts = batch_counts(batch)
    agreement, override = batch_rates(batch)
    n = counts["examples"]
    return {
        "batch": batch.name,
        "status": batch.status,
        **counts,
        "judge_kept_share": _share(counts["judge_kept"], n),
        "judge_only_share": _share(counts["judge_only"], n),
        "routed_to_human_share": _share(counts["routed_to_human"], n),
        "audited_share": _share(counts["audited"], n),
        "human_done_share": _share(counts["human_done"], counts["human_tasks"]),
        "audit_agreement": agreement.value,
        "audit_agreement_ci": [agreement.low, agreement.high] if agreement.n else None,
        "audit_agreement_n": agreement.n,
        "audit_agreement_n_eff": agreement.n_eff,
        "override_rate": override.value,
        "override_rate_ci": [override.low, override.high] if override.n else None,
        "override_rate_n": override.n,
        # Kept apart from the figures above: the label-accuracy estimate has its own module.
        **label_accuracy_keys(batch),
        "input_drift": batch.input_drift,
    }


def batches_report() -> list[dict[str, Any]]:
    return [batch_report(b) for b in Batch.objects.all()]


def release_gate(report: dict[str, Any], target: float) -> dict[str, Any]:
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
    reasons += label_gate_reasons(report)
    return {"passed": not reasons, "reasons": reasons, "target": target}


def batch_domain_rows(batch: Batch) -> list[dict[str, Any]]:
    """Per domain of a batch: examples, judge-kept, routed, audited."""
    rows = (
        RoutingDecision.objects.filter(example__batch=batch)
        .values("example__domain__path")
        .annotate(
            n=Count("id"),
            judge_kept=Count("id", filter=Q(route="judge")),
            human=Count("id", filter=Q(route="human")),
            audited=Count("id", filter=Q(audit=True)),
        )
        .order_by("example__domain__path")
    )
    return [{"domain": r["example__domain__path"], "n": r["n"], "judge_kept": r["judge_kept"],
             "human": r["human"], "audited": r["audited"]} for r in rows]


def batch_decisions(batch: Batch, route: str | None = None, limit: int = 50) -> list[RoutingDecision]:
    """The batch's routing decisions with their reasons, for the decision table."""
    qs = RoutingDecision.objects.filter(example__batch=batch).select_related("example__domain")
    if route == "audit":
        qs = qs.filter(audit=True)
    elif route in ("judge", "human"):
        qs = qs.filter(route=route)
    return list(qs.order_by("example__line_number")[:limit])


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
