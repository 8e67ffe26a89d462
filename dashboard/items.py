"""Everything stored about one example, for its item page: the judge's votes, the human labels,
the reference and how it was decided, and the routing decision with the certification it was
routed under. Reads only; the rules themselves (reference, agreement, risk group) are the ones
the figures use, so the page can never tell a different story from the batch report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404

from reviewers.models import Credential, HumanLabel, ReviewTask
from reviewers.references import label_reference, label_value
from routing.batches.domains import path_covered
from routing.batches.models import Example
from routing.decisions.models import RoutingDecision
from routing.decisions.risk_groups import domain_risk
from routing.judging.models import Judgment
from routing.monitoring.agreement import judge_verdict_value
from routing.monitoring.metrics import labels_agree


@dataclass(frozen=True)
class LabelRow:
    """One human label as the item page shows it: who (a credential id; a name for admins only)."""

    who: str
    kind: str
    value: float | None
    rationale: str
    created_at: datetime


def label_kind(label: HumanLabel) -> str:
    """Why the label was given: the review task's kind (routed, audit, gold, ...), or ``import``."""
    return label.task.kind if label.task_id and label.task else HumanLabel.Source.IMPORT


def covering_credential(credentials: Sequence[Credential], domain_path: str) -> Credential | None:
    """The reviewer's most specific credential covering the domain (the one the label stands on)."""
    covering = [c for c in credentials if path_covered(domain_path, c.domain_prefix)] if credentials else []
    return max(covering, key=lambda c: len(c.domain_prefix), default=None)


def label_who(label: HumanLabel, domain_path: str, *, admin: bool) -> str:
    """``credential #id (prefix, level)`` for leads; admins also see the reviewer's or annotator's name."""
    if label.reviewer_id is None:
        return f"imported · {label.annotator}" if admin and label.annotator else "imported annotator"
    assert label.reviewer is not None
    credential = covering_credential(list(label.reviewer.credentials.all()), domain_path)
    cred = f"credential #{credential.pk} ({credential.domain_prefix}, {credential.level})" if credential \
        else "no covering credential"
    return f"{cred} · {label.reviewer}" if admin else cred


def reference_basis(labels: Sequence[HumanLabel], task: str) -> tuple[float | None, str]:
    """The reference (``label_reference``) and, in words, how it was decided."""
    value = label_reference(labels, task)
    if any(label_kind(x) == ReviewTask.Kind.ADJUDICATION for x in labels):
        return value, "the adjudicator's label"
    counted = [v for x in labels if (v := label_value(x, task)) is not None]
    if not counted:
        return None, "no human label yet"
    if value is None:
        return None, f"no reference: a tie among {len(counted)} labels"
    agreeing = sum(v == value for v in counted)
    return value, f"majority: {agreeing} of {len(counted)} labels"


def decision_judge_value(decision: RoutingDecision | None, task: str) -> float | None:
    if decision is None:
        return None
    return judge_verdict_value(task, decision.judge_rating, decision.judge_verdict)


def decision_certification(example: Example, decision: RoutingDecision | None) -> dict[str, Any] | None:
    """The stored certification of the run the decision came from, for the example's risk group."""
    if decision is None or decision.run is None:
        return None
    alpha, delta = domain_risk(example.batch, example.domain)
    group = f"{alpha:g}/{delta:g}"
    return next((c for c in decision.run.certifications if c.get("group") == group), None)


def _example(example_id: int) -> Example:
    labels = HumanLabel.objects.select_related("task", "reviewer__user").prefetch_related(
        Prefetch("reviewer__credentials", queryset=Credential.objects.order_by("pk")))
    judgments = Judgment.objects.select_related("judge_config").order_by("judge", "variant", "order", "sample", "pk")
    queryset = Example.objects.select_related("batch", "domain", "decision__run").prefetch_related(
        Prefetch("human_labels", queryset=labels.order_by("created_at", "pk")),
        Prefetch("judgments", queryset=judgments))
    return get_object_or_404(queryset, pk=example_id)


def item_detail(example_id: int, *, admin: bool) -> dict[str, Any]:
    """The item page's context: the example, its votes, labels, reference, agreement and routing."""
    example = _example(example_id)
    labels = list(example.human_labels.all())
    decision = getattr(example, "decision", None)
    # Reviews only, as the batch figures count them (the stored Example.reviewed_reference, same rule).
    reviewed = [x for x in labels if x.source == HumanLabel.Source.REVIEW]
    reference, basis = reference_basis(reviewed, example.task)
    judge = decision_judge_value(decision, example.task)
    rows = [LabelRow(label_who(x, example.domain.path, admin=admin), label_kind(x), label_value(x, example.task),
                     x.rationale, x.created_at) for x in labels]
    return {"example": example, "judgments": list(example.judgments.all()), "labels": rows,
            "reference": reference, "reference_basis": basis, "decision": decision, "judge_value": judge,
            "agrees": labels_agree(example.task, reference, judge),
            "certification": decision_certification(example, decision)}
