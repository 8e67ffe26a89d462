"""Routing decisions. The threshold router: rules first, then a confidence threshold,
then a random audit sample of what the judge kept (``audit.py``); each routing is stored
as a run (``routing_runs.py``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from django.db import transaction

from routing.batches.models import Batch, Example
from routing.decisions.audit import audits_mark
from routing.decisions.models import RoutingDecision
from routing.decisions.risk_groups import domain_unseen, group_risk, group_sources, risk_group
from routing.decisions.routing_runs import RoutingPlan, routing_run_record
from routing.judging.models import JudgeSignals
from routing.scoring.budget import BudgetGroup, BudgetScores, budget_groups_plan
from routing.scoring.candidates import LEARNED, Stage
from routing.scoring.certify import Certification, cascade_keep, certify_cascade
from routing.scoring.model import Router, router_loads
from routing.scoring.models import RouterModel
from routing.scoring.scoring import stages_of
from routing.scoring.selectors import example_inputs, router_active
from routing.scoring.vectorized import ItemInput, feature_spec

THRESHOLD_ROUTER = "threshold-v1"


def confidence_of(signals: JudgeSignals) -> float | None:
    """The threshold router's confidence: the vote share, capped by the judge's own mean probability if given."""
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


# --- The learned router: certified (Learn-then-Test) and budget modes -------------------

COLD_START = (
    "cold start: no trained router yet, so nothing is kept on the judge alone "
    "(all to credentialed humans until enough labels arrive)"
)


def calibration_stages(model: RouterModel, *, unseen: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per stage of the model's score (one unless it is a cascade): held-out (scores, agree);
    ``unseen``: of its score for sources without history (``seen_sources``)."""
    cal = (model.selection or {})["unseen"]["calibration"] if unseen else (model.calibration or {})
    stages = cal.get("stages") or [{"scores": cal.get("scores", []), "agree": cal.get("agree", [])}]
    return [(np.asarray(s["scores"], dtype=float), np.asarray(s["agree"], dtype=int)) for s in stages]


def certifications_for(model: RouterModel, alpha: float, delta: float,
                       batch_scores: Sequence[np.ndarray] | None = None, *,
                       unseen: bool = False) -> list[Certification]:
    """Learn-then-Test of each stage on the model's held-out calibration data (a cascade splits
    delta over its stages). With ``batch_scores`` (per stage) the guarantee is about the batch's
    own kept items (finite-batch test), else the population rate. ``unseen``: of the score for
    sources without history, on its own calibration data."""
    stages = calibration_stages(model, unseen=unseen)
    return certify_cascade([s for s, _ in stages], [a for _, a in stages], alpha=alpha, delta=delta,
                           batch_scores=batch_scores)


def certification_for(model: RouterModel, alpha: float, delta: float,
                      batch_scores: np.ndarray | None = None) -> Certification:
    """``certifications_for`` of a single-stage score (the first stage of a cascade)."""
    return certifications_for(model, alpha, delta, None if batch_scores is None else [batch_scores])[0]


# Loaded routers by (pk, version): a stored model never changes, and loading (skops, type checks,
# novelty index) costs more than scoring a batch. Only the active model is in use, so keep a few.
_LOADED: dict[tuple[int, int, bool], Router] = {}
_LOADED_MAX = 4


def router_of(model: RouterModel, *, unseen: bool = False) -> Router:
    """The loaded router of a stored model (``unseen``: its own router for sources without
    history, when it has one), loaded once per process."""
    unseen = unseen and model.unseen_blob is not None
    key = (model.pk, model.version, unseen)
    router = _LOADED.get(key)
    if router is None:
        blob = model.unseen_blob if unseen else model.blob
        assert blob is not None  # ``unseen`` only with an unseen blob (above)
        router = router_loads(bytes(blob))
        if len(_LOADED) >= _LOADED_MAX:
            _LOADED.clear()
        _LOADED[key] = router
    return router


def stale_reason(model: RouterModel) -> str | None:
    """Why a stored router cannot score with this code's features (None when it can)."""
    current = feature_spec()
    if not model.score_name:
        return (f"router v{model.version} was trained before the router chose among candidate scores: "
                "nothing is kept on the judge alone until it is retrained")
    if model.feature_spec == current:
        return None
    return (f"router v{model.version} was trained on feature spec v{(model.feature_spec or {}).get('version')}, "
            f"this code computes v{current['version']}: nothing is kept on the judge alone until it is retrained")


def seen_sources(model: RouterModel) -> frozenset[str] | None:
    """The sources the model's training part had, when it keeps a separate score for the others
    (the coarse-judgment rule is applied only where the history is the target's own, as the
    backtest measures it: ``selection._target_seen``); None when one score routes every item."""
    unseen = (model.selection or {}).get("unseen")
    return frozenset(unseen["seen_sources"]) if unseen else None


def score_name_of(model: RouterModel, *, unseen: bool = False) -> str:
    return (model.selection or {})["unseen"]["score_name"] if unseen else model.score_name


def input_stages(model: RouterModel, inputs: Sequence[ItemInput], *, unseen: bool = False) -> list[Stage]:
    """The stages (verdict and score per item) of the model's chosen candidate score on the
    router's view of items (``unseen``: of its score for sources without history). Live routing
    and the champion/challenger comparison both score with this."""
    order = (model.selection or {}).get("cascade_order", [])
    name = score_name_of(model, unseen=unseen)
    router = router_of(model, unseen=unseen) if name in LEARNED else None
    return stages_of(name, inputs, router=router, order=order)


def router_stages(model: RouterModel, examples: Sequence[Example], primary_judge: str, *,
                  unseen: bool = False) -> list[Stage]:
    """``input_stages`` of stored examples."""
    return input_stages(model, example_inputs(examples, primary_judge), unseen=unseen)


def _learned_decision(example: Example, signals: JudgeSignals | None, version: str) -> RoutingDecision:
    decision = RoutingDecision(example=example, router_version=version)
    if signals is not None:
        decision.judge_verdict, decision.judge_rating = signals.verdict, signals.verdict_rating
        decision.confidence = confidence_of(signals)
    decision.route = RoutingDecision.Route.HUMAN
    decision.reason = rule_reason(example, signals) or ""
    return decision


def _keep(decision: RoutingDecision, threshold: float, what: str, name: str) -> None:
    assert decision.score is not None
    decision.threshold = threshold
    if decision.score >= threshold:
        decision.route = RoutingDecision.Route.JUDGE
        decision.reason = f"router score {decision.score:.3f} ({name}) >= {what} threshold {threshold:.3f}"
    else:
        decision.reason = f"router score {decision.score:.3f} ({name}) below {what} threshold {threshold:.3f}"


def _route_certified(batch: Batch, model: RouterModel, open_: list[tuple[RoutingDecision, int]],
                     stages: list[Stage], unseen_stages: list[Stage] | None, plan: RoutingPlan) -> None:
    """Certify per risk group (domain overrides; items of sources without history apart, with the
    model's score for them, ``seen_sources``) on the batch's own scores, each group on its own
    calibration data; each open decision (with its row in the stages) is kept by the first stage
    that clears its threshold."""
    groups: dict[str, list[tuple[RoutingDecision, int]]] = defaultdict(list)
    for d, row in open_:
        groups[risk_group(batch, d.example.domain, plan.seen_sources)].append((d, row))
    for key, members in groups.items():
        alpha, delta, unseen = group_risk(key)
        own = unseen_stages if unseen and unseen_stages is not None else stages
        rows = np.array([row for _, row in members], dtype=np.int64)
        batch_scores = [s.score[rows] for s in own]
        certs = certifications_for(model, alpha, delta, batch_scores, unseen=unseen)
        plan.certifications[key], plan.stage_certifications[key] = certs[0], certs
        keep = cascade_keep(batch_scores, [c.threshold for c in certs])
        for (d, row), stage in zip(members, keep.tolist(), strict=True):
            d.score = _first_score(own, row) if unseen else d.score
            _certified_decision(d, row, stage, own, certs, score_name_of(model, unseen=unseen), alpha)


def _certified_decision(d: RoutingDecision, row: int, stage: int, stages: list[Stage], certs: list[Certification],
                        name: str, alpha: float) -> None:
    passed = [c for c in certs if c.threshold is not None]
    if not passed:
        d.reason = f"nothing certified at {1 - alpha:.0%} agreement: {certs[0].reason}"
        return
    at = stage if stage >= 0 else next(i for i, c in enumerate(certs) if c.threshold is not None)
    d.score = float(stages[at].score[row])
    verdict = float(stages[at].verdict[row])
    if d.example.task == Example.Task.RATING:
        d.judge_rating = verdict
    else:
        d.judge_verdict = int(verdict)  # the verdict this stage certifies (a cascade's may be another judge's)
    label = name if len(stages) == 1 else f"{name} stage {at + 1}"
    threshold = certs[at].threshold
    assert threshold is not None
    _keep(d, threshold, "certified", label)


def _budget_groups(model: RouterModel, open_: list[tuple[RoutingDecision, int]],
                   unseen_stages: list[Stage] | None, seen: frozenset[str] | None
                   ) -> list[tuple[BudgetScores, list[RoutingDecision]]]:
    """The open decisions in budget mode's groups (sources with history first, then the others
    when the model scores them apart: ``unseen_stages``), each with its own score (an item of the
    second group gets it, as certified routing gives it) and that score's calibration."""
    members: dict[bool, list[RoutingDecision]] = {False: [], True: []}
    for d, row in open_:
        unseen = unseen_stages is not None and domain_unseen(d.example.domain.path, seen)
        if unseen_stages is not None and unseen:
            d.score = _first_score(unseen_stages, row)
        members[unseen].append(d)
    groups = []
    for unseen, decisions in members.items():
        if decisions:
            cal_scores, cal_agree = calibration_stages(model, unseen=unseen)[0]
            scores = BudgetScores(group_sources(unseen, seen), score_name_of(model, unseen=unseen),
                                  [d.score for d in decisions], cal_scores, cal_agree)
            groups.append((scores, decisions))
    return groups


def _route_budget(batch: Batch, model: RouterModel, open_: list[tuple[RoutingDecision, int]],
                  unseen_stages: list[Stage] | None, capacity: int, plan: RoutingPlan) -> None:
    """Send the ``capacity`` least confident open decisions to humans, keep the rest; with a
    separate score for sources without history, each group by its own score and with its share
    of the capacity, bounded on its own calibration (``scoring.budget``)."""
    groups = _budget_groups(model, open_, unseen_stages, plan.seen_sources)
    plan.budget = budget_groups_plan([g for g, _ in groups], capacity, delta=batch.delta)
    split = len(groups) > 1
    for group, (_, decisions) in zip(plan.budget.groups, groups, strict=True):
        human = set(group.to_humans)
        for i, d in enumerate(decisions):
            d.threshold = group.threshold
            _budget_decision(d, i in human, group, split)


def _budget_decision(d: RoutingDecision, human: bool, group: BudgetGroup, split: bool) -> None:
    share = f"the share of the roster capacity for sources {group.sources}" if split else "roster capacity"
    if human:
        by = f"by {group.score_name}, " if split else ""
        d.reason = f"budget: among the {len(group.to_humans)} least confident ({by}{share})"
    else:
        d.route = RoutingDecision.Route.JUDGE
        name = f" ({group.score_name})" if split else ""
        d.reason = f"budget: router score {d.score:.3f}{name} kept (beyond {share})"


def _open_decisions(decisions: list[RoutingDecision], stages: list[Stage]) -> list[tuple[RoutingDecision, int]]:
    """Decisions no rule settled whose example some stage can score, with their row. Every
    scorable decision gets the first stage's score with one (budget mode ranks by it; a rule's
    decision keeps it to show what the router would have said)."""
    out = []
    for row, d in enumerate(decisions):
        score = _first_score(stages, row)
        if score is not None:
            d.score = score
            if not d.reason:
                out.append((d, row))
    return out


def _first_score(stages: list[Stage], row: int) -> float | None:
    """The first stage's score of ``row`` that is a number (None when no stage scores it)."""
    return next((float(s.score[row]) for s in stages if np.isfinite(s.score[row])), None)


def batch_route_learned(*, batch: Batch, examples: Sequence[Example],
                        roster_capacity: int | None = None) -> list[RoutingDecision]:
    """Route with the active learned router: rules first, then the certified threshold (mode
    "certified") or the roster's remaining capacity (mode "budget": ``roster_capacity``, what the
    roster can still review today, which the caller reads from the reviewer side), then a
    score-stratified audit sample."""
    if batch.routing_mode == Batch.Mode.BUDGET and roster_capacity is None:
        raise ValueError("budget routing needs the roster's remaining capacity")
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
        _route_open(batch, model, examples, decisions, roster_capacity, plan)
    audits_mark(batch=batch, kept=[d for d in decisions if d.route == RoutingDecision.Route.JUDGE])
    routing_run_record(batch=batch, plan=plan, decisions=decisions)
    decisions_save(decisions=decisions)
    return decisions


def _route_open(batch: Batch, model: RouterModel, examples: Sequence[Example], decisions: list[RoutingDecision],
                roster_capacity: int | None, plan: RoutingPlan) -> None:
    """Score the decisions no rule settled with the model, items of sources it has no history
    for with its score for them (computed only when the batch has such items), and route them
    certified or by budget."""
    plan.score_name, plan.seen_sources = model.score_name, seen_sources(model)
    unseen = any(domain_unseen(e.domain.path, plan.seen_sources) for e in examples)
    plan.unseen_score_name = score_name_of(model, unseen=True) if plan.seen_sources is not None else ""
    inputs = example_inputs(examples, batch.primary_judge)  # one read of the judgments for both scores
    stages = input_stages(model, inputs)
    unseen_stages = input_stages(model, inputs, unseen=True) if unseen else None
    open_ = _open_decisions(decisions, stages)
    if batch.routing_mode == Batch.Mode.BUDGET:
        n_rule = len(decisions) - len(open_)  # rule-routed items use up capacity first
        _route_budget(batch, model, open_, unseen_stages, (roster_capacity or 0) - n_rule, plan)
    else:
        _route_certified(batch, model, open_, stages, unseen_stages, plan)
