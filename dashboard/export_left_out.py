"""What a preference file leaves out, and why: one rule (``preference_left_out``) that the
writer applies to each row it skips and that ``left_out_counts`` applies to a grouped SQL count
before the first byte is streamed, so the streamed response's ``X-HybridQC-Left-Out`` header, the
export job's and the rows missing from the file are the same figure.

The count reads each example's label as the lineage row does (``dashboard.export``): the reviewed
reference when there is one, else the judge's verdict for a judge-only example, else none."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from django.db.models import Case, Count, F, FloatField, Q, Value, When

from routing.batches.models import Batch, Example
from routing.decisions.models import RoutingDecision


def preference_left_out(task: str, label: float | None) -> str | None:
    """Why an example with this task and final label is not a preference pair (``not_pairwise``,
    ``unlabeled``, ``ties``), or None when it is one."""
    if task != Example.Task.PAIRWISE:
        return "not_pairwise"
    if label is None:
        return "unlabeled"
    if int(label) == 0:
        return "ties"
    return None


def _pairwise_label() -> Case:
    # Only a pairwise example's label decides anything; the others group under one NULL.
    judge_only = Q(route=RoutingDecision.Route.JUDGE, audit=False)
    return Case(
        When(~Q(example__task=Example.Task.PAIRWISE), then=Value(None)),
        When(reference__isnull=False, then=F("reference")),
        When(judge_only, then=F("judge_verdict")),
        default=Value(None), output_field=FloatField(),
    )


def left_out_counts(batch: Batch) -> Counter[str]:
    """Per reason, how many of the batch's routed examples a preference file leaves out: one
    grouped query (a handful of (task, label) groups), the rule applied to each group."""
    groups = (RoutingDecision.objects.filter(example__batch=batch).annotate(reference=F("example__reviewed_reference"))
              .annotate(pair_label=_pairwise_label()).order_by().values("example__task", "pair_label")
              .annotate(n=Count("pk")))
    counts: Counter[str] = Counter()
    for group in groups:
        reason = preference_left_out(group["example__task"], group["pair_label"])
        if reason is not None:
            counts[reason] += group["n"]
    return counts


def left_out_before(batch: Batch, fmt: str) -> Counter[str]:
    """What the file of this format will leave out: jsonl, csv and parquet have a row for every
    routed example."""
    return left_out_counts(batch) if fmt == "preference" else Counter()


def left_out_text(left_out: Mapping[str, int]) -> str:
    """``X-HybridQC-Left-Out``: each reason with its count (``ties=12, unlabeled=3``), ``none``
    when the file has every routed example."""
    return ", ".join(f"{reason}={count}" for reason, count in sorted(left_out.items()) if count) or "none"
