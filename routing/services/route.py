"""Routing decisions. The threshold router of #2: rules first, then a confidence threshold,
then a random audit sample of what the judge kept (services/audit.py); each routing is stored
as a run (services/routing_runs.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from django.db import transaction

from routing.models import Batch, Example, JudgeSignals, RouterModel, RoutingDecision
from routing.router.budget import BudgetPlan, budget_plan
from routing.router.certify import Certification, certify
from routing.router.features import feature_spec
from routing.router.model import Router, router_loads, routing_score

from .audit import audits_mark
from .risk_groups import domain_risk
from .routing_runs import routing_run_record

THRESHOLD_ROUTER = "threshold-v1"


def confidence_of(signals: JudgeSignals) -> float | None:
    """The #2 confidence: the vote share, capped by the judge's own mean probability if given."""
    if signals.vote_share is None:
        return None
    if signals.mean_probability is not None:
        return min(signals.vote_share, signals.mean_probability)
    return signals.vote_share


def rule_reason(example: Example, signals: JudgeSignals | None) -> str | None:
    """Reasons that send an example to humans whatever the judge's confidence."""
    if example.domain.always_human:
        return f"domain {example.domain.path} is always-human"
    if example.flagged:
        return "flagged for human review"
    if signals is None or signals.n_usable == 0:
        reason = signals.failure_reason if signals else "not judged"
        return f"no usable judge verdict ({reason})"
    if signals.tied:
        return f"tied judge vote ({signals.n_usable} votes)"
    if signals.position_biased:
        return "position-biased: the judge's verdict flips when the responses are swapped"
    return None


def threshold_decision(example: Example, signals: JudgeSignals | None, threshold: float) -> RoutingDecision:
    decision = RoutingDecision(example=example, router_version=THRESHOLD_ROUTER, threshold=threshold)
    if signals is not None:
        decision.judge_verdict, decision.judge_rating = signals.verdict, signals.verdict_rating
        decision.confidence = confidence_of(signals)
    reason = rule_reason(example, signals)
    if reason is None and decision.confidence is not None and decision.confidence < threshold:
        reason = f"confidence {decision.confidence:.2f} below threshold {threshold:.2f}"
    decision.route = RoutingDecision.Route.HUMAN if reason else RoutingDecision.Route.JUDGE
    decision.reason = reason or f"confidence {decision.confidence:.2f} >= threshold {threshold:.2f}"
    return decision


def decisions_save(*, decisions: Sequence[RoutingDecision]) -> None:
    """Replace the routing decisions of these examples."""
    with transaction.atomic():
        RoutingDecision.objects.filter(example__in=[d.example for d in decisions]).delete()
        RoutingDecision.objects.bulk_create(decisions, batch_size=2000)


def batch_route_threshold(*, batch: Batch, examples: Sequence[Example]) -> list[RoutingDecision]:
    """Route examples with the batch's confidence threshold and mark the audit sample."""
    key = batch.primary_judge
    signals = {s.example_id: s for s in JudgeSignals.objects.filter(example__in=examples, judge_key=key)}
    decisions = [threshold_decision(e, signals.get(e.pk), batch.confidence_threshold) for e in examples]
    audits_mark(batch=batch, kept=[d for d in decisions if d.route == RoutingDecision.Route.JUDGE])
    routing_run_record(batch=batch, plan=None, decisions=decisions)
    decisions_save(decisions=decisions)
    return decisions


# --- The learned router (#4): certified (Learn-then-Test) and budget modes -------------------

COLD_START = (
    "cold start: no trained router yet, so nothing is kept on the judge alone "
    "(all to credentialed humans until enough labels arrive)"
)


@dataclass
class RoutingPlan:
    """What the learned router decided for a batch, for the router panel."""

    mode: str
    router_version: str
    cold_start: str = ""
    certifications: dict[str, Certification] = field(default_factory=dict)  # "alpha/delta" -> result
    budget: BudgetPlan | None = None


def _calibration_arrays(model: RouterModel) -> tuple[np.ndarray, np.ndarray]:
    cal = model.calibration or {}
    return np.asarray(cal.get("scores", []), dtype=float), np.asarray(cal.get("agree", []), dtype=int)


def certification_for(model: RouterModel, alpha: float, delta: float,
                      batch_scores: np.ndarray | None = None) -> Certification:
    """Learn-then-Test on the model's held-out calibration scores. With ``batch_scores`` the
    guarantee is about the batch's own kept items (finite-batch test), else the population rate."""
    scores, agree = _calibration_arrays(model)
    return certify(scores, agree, alpha=alpha, delta=delta, batch_scores=batch_scores)


# Loaded routers by (pk, version): a stored model never changes, and loading (skops, type checks,
# novelty index) costs more than scoring a batch. Only the active model is in use, so keep a few.
_LOADED: dict[tuple[int, int], Router] = {}
_LOADED_MAX = 2


def router_of(model: RouterModel) -> Router:
    """The loaded router of a stored model, loaded once per process."""
    key = (model.pk, model.version)
    router = _LOADED.get(key)
    if router is None:
        router = router_loads(bytes(model.blob))
        if len(_LOADED) >= _LOADED_MAX:
            _LOADED.clear()
        _LOADED[key] = router
    return router


def stale_reason(model: RouterModel) -> str | None:
    """Why a stored router cannot score with this code's features (None when it can)."""
    current = feature_spec()
    if model.feature_spec == current:
        return None
    return (f"router v{model.version} was trained on feature spec v{(model.feature_spec or {}).get('version')}, "
            f"this code computes v{current['version']}: nothing is kept on the judge alone until it is retrained")


def learned_scores(model: RouterModel, examples: Sequence[Example], signals: dict[int, JudgeSignals],
                   primary_judge: str) -> list[float | None]:
    """The router score per example (None when the judge gave no usable verdict)."""
    from routing.selectors import example_inputs

    probs = router_of(model).predict(example_inputs(examples, primary_judge))
    conf = [confidence_of(s) if (s := signals.get(e.pk)) is not None else None for e in examples]
    scores = routing_score(probs, np.array(conf, dtype=float))  # None -> NaN -> no score
    return [None if np.isnan(x) else x for x in scores.tolist()]


def _learned_decision(example: Example, signals: JudgeSignals | None, version: str) -> RoutingDecision:
    decision = RoutingDecision(example=example, router_version=version)
    if signals is not None:
        decision.judge_verdict, decision.judge_rating = signals.verdict, signals.verdict_rating
        decision.confidence = confidence_of(signals)
    decision.route = RoutingDecision.Route.HUMAN
    decision.reason = rule_reason(example, signals) or ""
    return decision


def _keep(decision: RoutingDecision, threshold: float, what: str) -> None:
    assert decision.score is not None
    decision.threshold = threshold
    if decision.score >= threshold:
        decision.route = RoutingDecision.Route.JUDGE
        decision.reason = f"router score {decision.score:.3f} >= {what} threshold {threshold:.3f}"
    else:
        decision.reason = f"router score {decision.score:.3f} below {what} threshold {threshold:.3f}"


def _route_certified(batch: Batch, model: RouterModel, open_: list[RoutingDecision], plan: RoutingPlan) -> None:
    groups: dict[tuple[float, float], list[RoutingDecision]] = defaultdict(list)
    for d in open_:
        groups[domain_risk(batch, d.example.domain)].append(d)
    for (alpha, delta), decisions in groups.items():
        batch_scores = np.array([d.score for d in decisions], dtype=float)
        cert = plan.certifications[f"{alpha:g}/{delta:g}"] = certification_for(model, alpha, delta, batch_scores)
        for d in decisions:
            if cert.threshold is None:
                d.reason = f"nothing certified at {1 - alpha:.0%} agreement: {cert.reason}"
            else:
                _keep(d, cert.threshold, "certified")


def _route_budget(batch: Batch, model: RouterModel, open_: list[RoutingDecision], n_rule: int,
                  plan: RoutingPlan) -> None:
    from routing.selectors import batch_domains, roster_remaining_capacity

    capacity = roster_remaining_capacity(batch_domains(batch)) - n_rule
    scores, agree = _calibration_arrays(model)
    plan.budget = budget_plan([d.score or 0.0 for d in open_], capacity, cal_scores=scores, cal_agree=agree,
                              delta=batch.delta)
    human = set(plan.budget.to_humans)
    for i, d in enumerate(open_):
        d.threshold = plan.budget.threshold
        if i in human:
            d.reason = f"budget: among the {len(human)} least confident (roster capacity)"
        else:
            d.route = RoutingDecision.Route.JUDGE
            d.reason = f"budget: router score {d.score:.3f} kept (beyond roster capacity)"


def batch_route_learned(*, batch: Batch, examples: Sequence[Example]) -> tuple[list[RoutingDecision], RoutingPlan]:
    """Route with the active learned router: rules first, then the certified threshold (mode
    "certified") or the roster's capacity (mode "budget"), then a score-stratified audit sample."""
    from routing.selectors import router_active

    model = router_active()
    stale = stale_reason(model) if model is not None else None
    signals = {s.example_id: s for s in JudgeSignals.objects.filter(example__in=examples,
                                                                    judge_key=batch.primary_judge)}
    version = f"router-v{model.version}" if model and not stale else "router-cold-start"
    plan = RoutingPlan(mode=batch.routing_mode, router_version=version)
    decisions = [_learned_decision(e, signals.get(e.pk), version) for e in examples]
    if model is None or stale:
        plan.cold_start = stale or COLD_START
        for d in decisions:
            d.reason = d.reason or plan.cold_start
    else:
        for d, score in zip(decisions, learned_scores(model, examples, signals, batch.primary_judge), strict=True):
            d.score = score
        open_ = [d for d in decisions if not d.reason and d.score is not None]
        if batch.routing_mode == Batch.Mode.BUDGET:
            _route_budget(batch, model, open_, len(decisions) - len(open_), plan)
        else:
            _route_certified(batch, model, open_, plan)
    audits_mark(batch=batch, kept=[d for d in decisions if d.route == RoutingDecision.Route.JUDGE])
    routing_run_record(batch=batch, plan=plan, decisions=decisions)
    decisions_save(decisions=decisions)
    return decisions, plan


def batch_reroute(*, batch: Batch) -> int:
    """Re-route the batch's examples no reviewer has labeled yet: delete their decisions and their
    routed/audit tasks not yet taken (leased work is left alone), then route them again."""
    from reviewers.models import ReviewTask
    from routing.selectors import batch_unreviewed_examples

    from .pipeline import batch_route

    with transaction.atomic():
        examples = batch_unreviewed_examples(batch)
        leased = set(ReviewTask.objects.filter(example__in=examples, status=ReviewTask.Status.LEASED)
                     .values_list("example_id", flat=True))
        movable = [e for e in examples if e.pk not in leased]
        ReviewTask.objects.filter(
            example__in=movable, kind__in=[ReviewTask.Kind.ROUTED, ReviewTask.Kind.AUDIT],
            status__in=[ReviewTask.Status.OPEN, ReviewTask.Status.UNSTAFFED],
        ).delete()
        RoutingDecision.objects.filter(example__in=movable).delete()
    return batch_route(batch=batch)
