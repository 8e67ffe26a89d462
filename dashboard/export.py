"""One row per example with its lineage: what it is (prompt, responses), its final label and
where that label came from, who judged and routed it under which certification, which
credentials reviewed it (ids, never names), and when."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from reviewers.models import Credential, HumanLabel, ReviewTask
from routing.batches.models import Batch
from routing.decisions.models import RoutingDecision, RoutingRun
from routing.decisions.risk_groups import domain_risk

from .selectors import batch_report, release_gate
from .trends import reviewed_references


class LabelSource:
    JUDGE_ONLY = "judge_only"
    HUMAN = "human"
    AUDITED = "audited"
    ADJUDICATED = "adjudicated"
    PENDING = "pending"


@dataclass
class _Reviews:
    """Per example: the credential ids behind its review labels, whether one adjudicated, and
    when the last label was given."""

    credentials: set[int] = field(default_factory=set)
    adjudicated: bool = False
    last: Any = None


def covering_credential(credentials: list[Credential], domain: str) -> int | None:
    """The id of the most specific of a reviewer's credentials whose prefix covers the domain."""
    fits = [c for c in credentials if domain == c.domain_prefix.strip("/")
            or domain.startswith(c.domain_prefix.strip("/") + "/")]
    return max(fits, key=lambda c: len(c.domain_prefix)).pk if fits else None


def _reviews(example_ids: list[int]) -> dict[int, _Reviews]:
    labels = (HumanLabel.objects.filter(example_id__in=example_ids, source=HumanLabel.Source.REVIEW)
              .select_related("task", "example__domain").prefetch_related("reviewer__credentials"))
    out: dict[int, _Reviews] = defaultdict(_Reviews)
    for label in labels:
        entry = out[label.example_id]
        if label.reviewer is not None:
            credential = covering_credential(list(label.reviewer.credentials.all()), label.example.domain.path)
            if credential is not None:
                entry.credentials.add(credential)
        entry.adjudicated |= bool(label.task and label.task.kind == ReviewTask.Kind.ADJUDICATION)
        entry.last = max(entry.last, label.created_at) if entry.last else label.created_at
    return out


def judge_identity(batch: Batch) -> tuple[str, str]:
    """(judge name, version): a live configuration's ``name@vN`` split, else the recorded judge
    with version ``recorded``."""
    name, sep, version = batch.primary_judge.rpartition("@v")
    if sep and version.isdigit():
        return name, version
    return batch.primary_judge, batch.judge_backend


def _certification(run: RoutingRun | None, batch: Batch, d: RoutingDecision) -> dict[str, Any] | None:
    """The stored certification of the example's risk group in the run that routed it."""
    if run is None:
        return None
    alpha, delta = domain_risk(batch, d.example.domain)
    return next((c for c in run.certifications if c.get("alpha") == alpha and c.get("delta") == delta), None)


def _source(d: RoutingDecision, has_reference: bool, reviews: _Reviews | None) -> str:
    if not has_reference:
        return LabelSource.JUDGE_ONLY if d.route == "judge" and not d.audit else LabelSource.PENDING
    if reviews is not None and reviews.adjudicated:
        return LabelSource.ADJUDICATED
    return LabelSource.AUDITED if d.audit else LabelSource.HUMAN


def _row(batch: Batch, d: RoutingDecision, reference: dict[int, float], reviews: _Reviews | None,
         released: bool) -> dict[str, Any]:
    example, judge_name, judge_version = d.example, *judge_identity(batch)
    verdict = d.judge_rating if example.task == "rating" else d.judge_verdict
    source = _source(d, example.pk in reference, reviews)
    label = reference.get(example.pk) if source != LabelSource.JUDGE_ONLY else verdict
    run = d.run
    return {
        "id": example.external_id, "line": example.line_number, "batch": batch.name, "domain": example.domain.path,
        "task": example.task, "prompt": example.prompt, "responses": example.responses,
        "scale": [example.scale_min, example.scale_max] if example.task == "rating" else None,
        "label": label, "label_source": source, "judge_name": judge_name, "judge_version": judge_version,
        "judge_verdict": verdict, "route": d.route, "audit": d.audit, "audit_probability": d.audit_probability,
        "routing_reason": d.reason, "router_version": d.router_version, "routing_run": run.pk if run else None,
        "routing_mode": run.mode if run else None, "router_score": run.score_name if run else None,
        "certification": _certification(run, batch, d),
        "reviewer_credentials": sorted(reviews.credentials) if reviews else [],
        "batch_date": batch.date.isoformat(), "imported_at": example.created_at.isoformat(),
        "routed_at": d.created_at.isoformat(),
        "labelled_at": reviews.last.isoformat() if reviews and reviews.last else None,
        "released": released,
    }


# Decisions read per round trip while a file is written: memory stays at one chunk's rows.
CHUNK_SIZE = 2000


@dataclass
class LineageExport:
    batch: Batch
    released: bool
    gate_reasons: list[str]
    rows: Iterator[dict[str, Any]]


def export_gate(batch: Batch) -> dict[str, Any]:
    return release_gate(batch_report(batch), 1 - batch.alpha)


def lineage_export(batch: Batch) -> LineageExport:
    """Every routed example of the batch in file order, read as the file is written (``rows`` is
    an iterator over pages of decisions, each read with its references and reviews, so memory
    holds one page whatever the batch's size); ``released`` is whether the release gate passed
    at export time (a file exported past a holding gate says so in every row)."""
    gate = export_gate(batch)
    decisions = (RoutingDecision.objects.filter(example__batch=batch)
                 .select_related("example__domain", "run").order_by("example__line_number", "example_id"))

    def rows() -> Iterator[dict[str, Any]]:
        for page in itertools.batched(decisions.iterator(chunk_size=CHUNK_SIZE), CHUNK_SIZE):
            ids = [d.example_id for d in page]
            # A reference is the rule applied to one example's labels, so a page's are exact.
            reference = reviewed_references(RoutingDecision.objects.filter(example_id__in=ids))
            reviews = _reviews(ids)
            for d in page:
                yield _row(batch, d, reference, reviews.get(d.example_id), gate["passed"])

    return LineageExport(batch=batch, released=gate["passed"], gate_reasons=gate["reasons"], rows=rows())
