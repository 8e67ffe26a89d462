"""Judge calibration and bias per domain and judge version, from the reviewed items: audits
weighted by 1 / their inclusion probability, routed items by 1 (every one is reviewed), so the
figures stand for the whole of what the judge saw, not just the part it was unsure about."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, Q

from routing.decisions.models import RoutingDecision
from routing.judging.models import JudgeConfig, JudgeSignals
from routing.monitoring.metrics import labels_agree, weighted_rate

from .trends import domain_filter, reviewed_references

BINS = 10


@dataclass
class Item:
    """One reviewed item as the report needs it."""

    correct: bool
    confidence: float | None
    weight: float
    verdict: float | None
    reference: float
    responses: list[str]
    models: list[str] | None


def response_models(metadata: Any) -> list[str] | None:
    """The models that wrote the two responses, when metadata names them: ``response_models``
    or ``models`` as a list of two names, or ``models`` as ``"a_b"`` (the PandaLM form)."""
    if not isinstance(metadata, dict):
        return None
    names = metadata.get("response_models", metadata.get("models"))
    if isinstance(names, str):
        names = names.split("_")
    if isinstance(names, list) and len(names) == 2 and all(isinstance(n, str) for n in names):
        return [n.strip().lower() for n in names]
    return None


def reliability(items: Sequence[Item]) -> tuple[float | None, list[dict[str, Any]]]:
    """Weighted ECE over equal-width confidence bins (the last bin includes 1.0), and the bins:
    sum over bins of (bin weight / total weight) * |weighted accuracy - weighted confidence|."""
    scored = [i for i in items if i.confidence is not None]
    total = sum(i.weight for i in scored)
    if not total:
        return None, []
    bins: dict[int, list[Item]] = defaultdict(list)
    for item in scored:
        bins[min(int(float(item.confidence or 0) * BINS), BINS - 1)].append(item)
    ece, rows = 0.0, []
    for b in sorted(bins):
        members = bins[b]
        weight = sum(i.weight for i in members)
        confidence = sum(i.weight * float(i.confidence or 0) for i in members) / weight
        accuracy = sum(i.weight * i.correct for i in members) / weight
        ece += weight / total * abs(accuracy - confidence)
        rows.append({"low": b / BINS, "high": (b + 1) / BINS, "n": len(members), "weight": weight,
                     "confidence": confidence, "accuracy": accuracy})
    return ece, rows


def _preference_gap(pairs: Sequence[tuple[Item, int]]) -> dict[str, Any]:
    """Weighted share of items where the judge picks the marked response (1 or 2) minus the
    share where the reviewed reference does."""
    total = sum(item.weight for item, _ in pairs)
    if not total:
        return {"judge": None, "reviewers": None, "gap": None, "n": 0}
    judge = sum(item.weight for item, side in pairs if item.verdict == side) / total
    reviewers = sum(item.weight for item, side in pairs if item.reference == side) / total
    return {"judge": judge, "reviewers": reviewers, "gap": judge - reviewers, "n": len(pairs)}


def _decided(item: Item) -> bool:
    return item.verdict in (1, 2) and item.reference in (1, 2)


def length_bias(items: Sequence[Item]) -> dict[str, Any]:
    """How much more often the judge prefers the longer response than reviewers do (pairwise
    items where both gave a non-tie verdict and the responses differ in length)."""
    pairs = [(i, 1 if len(i.responses[0]) > len(i.responses[1]) else 2) for i in items
             if _decided(i) and len(i.responses) == 2 and len(i.responses[0]) != len(i.responses[1])]
    return _preference_gap(pairs)


def self_preference(items: Sequence[Item], judge_model: str) -> dict[str, Any]:
    """How much more often the judge prefers the response its own model wrote than reviewers do
    (items whose metadata names exactly one response's model as the judge's)."""
    pairs = [(i, i.models.index(judge_model) + 1) for i in items
             if _decided(i) and i.models and i.models.count(judge_model) == 1]
    return _preference_gap(pairs)


def judge_model_name(judge_key: str) -> str:
    """The model behind a judge version: a live configuration's model (``name@vN``), else the
    recorded judge's own name."""
    name, sep, version = judge_key.rpartition("@v")
    if sep and version.isdigit():
        config = JudgeConfig.objects.filter(name=name, version=int(version)).first()
        if config:
            return config.model.strip().lower()
    return judge_key.strip().lower()


def _items(domain_prefix: str | None) -> dict[tuple[str, str], list[Item]]:
    human_seen = Q(audit=True) | Q(route=RoutingDecision.Route.HUMAN)
    decisions = RoutingDecision.objects.filter(human_seen, domain_filter(domain_prefix, "example__domain__path"))
    reference = reviewed_references(decisions)
    rows = decisions.filter(example_id__in=list(reference)).values_list(
        "example_id", "example__domain__path", "example__batch__primary_judge", "example__task", "audit",
        "audit_probability", "judge_verdict", "judge_rating", "confidence", "example__responses", "example__metadata")
    groups: dict[tuple[str, str], list[Item]] = defaultdict(list)
    for eid, path, judge, task, audit, p, verdict, rating_value, confidence, responses, metadata in rows:
        value = rating_value if task == "rating" else verdict
        agree = labels_agree(task, reference[eid], value)
        if agree is None:
            continue
        weight = 1 / p if audit and p else 1.0
        groups[(path, judge)].append(Item(agree, confidence, weight, value if task == "pairwise" else None,
                                          reference[eid], list(responses), response_models(metadata)))
    return groups


def _position_bias(domain_prefix: str | None) -> dict[tuple[str, str], tuple[int, int]]:
    """Per domain and judge version: (verdicts that flip with the order, verdicts asked in both)."""
    rows = (
        JudgeSignals.objects.filter(judge_key=F("example__batch__primary_judge"), order_consistency__isnull=False)
        .filter(domain_filter(domain_prefix, "example__domain__path"))
        .values("example__domain__path", "judge_key")
        .annotate(n=Count("id"), biased=Count("id", filter=Q(position_biased=True)))
    )
    return {(r["example__domain__path"], r["judge_key"]): (r["biased"], r["n"]) for r in rows}


def _group_report(path: str, judge: str, items: list[Item], position: tuple[int, int]) -> dict[str, Any]:
    accuracy = weighted_rate([i.correct for i in items], [1 / i.weight for i in items])
    ece, bins = reliability(items)
    biased, asked = position
    return {
        "domain": path, "judge_version": judge, "n": len(items),
        "accuracy": accuracy.value, "accuracy_ci": [accuracy.low, accuracy.high] if accuracy.n else None,
        "accuracy_n_eff": accuracy.n_eff, "ece": ece, "reliability": bins,
        "position_bias": biased / asked if asked else None, "position_bias_n": asked,
        "length_bias": length_bias(items), "self_preference": self_preference(items, judge_model_name(judge)),
    }


def judge_report(*, domain_prefix: str | None = None) -> dict[str, Any]:
    """``{"groups": [...]}``, one per domain and judge version that has reviewed items or
    order-swapped verdicts, sorted by domain then judge."""
    items = _items(domain_prefix)
    position = _position_bias(domain_prefix)
    keys = sorted(set(items) | set(position))
    return {"groups": [_group_report(path, judge, items.get((path, judge), []), position.get((path, judge), (0, 0)))
                       for path, judge in keys]}
