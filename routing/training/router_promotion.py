"""Champion and challenger: a retrained router (the challenger) is stored inactive and replaces the
active one (the champion) only when it keeps at least as much on recent history at the same
guarantee, so a retrain cannot make routing worse.

Recent history is the labeled examples the challenger held out (its calibration part) whose first
human label arrived after the champion was created: neither model trained on them. Each model
scores them as live routing would: its own chosen score, and for items of sources it has no
history for (a model that keeps a separate score for them, ``route.seen_sources``) that score,
the two groups certified apart. Over PROMOTION_SPLITS seeded random halves (the same halves for
both models) each group is certified on its items of one half (Learn-then-Test at PROMOTION_ALPHA
and PROMOTION_DELTA, a cascade stage by stage, the other half's scores as the batch, as live
routing does) and measured on the other half: the share of the half it keeps, and whether every
group's kept items agree with humans at >= 1 - alpha (the guarantee held). The challenger wins
with a mean coverage at least the champion's; on an exact tie, only if its held share is not lower.

Fallback: with fewer than PROMOTION_MIN_RECENT recent examples that comparison is noise, so each
model is measured the same way on its own stored calibration part (the challenger's whole held-out
part against the champion's). Those are different items, so this compares how each did on data it
never saw rather than on the same data; the promotion record says when it was used.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from hybridqc.roles import User
from routing.batches.selectors import examples_first_labeled_after
from routing.decisions.risk_groups import domain_unseen
from routing.decisions.route import calibration_stages, input_stages, score_name_of, seen_sources, stale_reason
from routing.scoring.candidates import Stage, agreement
from routing.scoring.certify import cascade_apply
from routing.scoring.models import RouterModel
from routing.scoring.selectors import router_active
from routing.training.backtest import LabeledItem

log = logging.getLogger(__name__)

PROMOTION_MIN_RECENT = 60
PROMOTION_SPLITS = 50
PROMOTION_ALPHA = 0.10
PROMOTION_DELTA = 0.10
ACTIVATED, REJECTED = "activated", "rejected"
# Any version an admin may make active by hand; a rejected one too (overriding the comparison).
PROMOTABLE = (RouterModel.Status.CANDIDATE, RouterModel.Status.RETIRED, RouterModel.Status.REJECTED)

# Per stage of a model's score: (scores, 1 where the stage's verdict equals the human reference).
StageData = list[tuple[np.ndarray, np.ndarray]]


@dataclass
class ScoredGroup:
    """Items a model scores alike, as live routing does: sources with history by its main score,
    the others by its score for them (``route.seen_sources``), each certified on its own."""

    rows: np.ndarray  # boolean, over all the items measured
    stages: StageData  # over all the items measured (only ``rows`` are used)
    score_name: str
    unseen: bool = False


class PromotionError(ValueError):
    """A version that cannot be made active."""


@dataclass
class Measured:
    """One model's backtest over the random halves (``n_unseen`` of the ``n`` items scored with its
    score for sources without history, ``unseen_score_name``)."""

    version: int
    score_name: str
    coverage: float
    held: float
    n: int
    unseen_score_name: str = ""
    n_unseen: int = 0


def _half(groups: Sequence[ScoredGroup], cal: np.ndarray, test: np.ndarray, alpha: float,
          delta: float) -> tuple[float, bool]:
    """Certify each group on its ``cal`` items, keep its ``test`` items: (share of ``test`` kept,
    every group's kept agreement >= 1 - alpha, the guarantee live routing gives each group)."""
    n_kept, held = 0, True
    for group in groups:
        c, t = cal[group.rows[cal]], test[group.rows[test]]
        kept, correct, _ = cascade_apply([s[c] for s, _ in group.stages], [a[c] for _, a in group.stages],
                                         [s[t] for s, _ in group.stages], [a[t] for _, a in group.stages],
                                         alpha=alpha, delta=delta)
        n_kept += int(kept.sum())
        held = held and (not kept.any() or bool(correct[kept].mean() >= 1 - alpha))
    return n_kept / test.size if test.size else 0.0, held


def halves_backtest(groups: Sequence[ScoredGroup], *, alpha: float = PROMOTION_ALPHA,
                    delta: float = PROMOTION_DELTA, splits: int = PROMOTION_SPLITS, seed: int = 0
                    ) -> tuple[float, float]:
    """(mean coverage, share of splits where the guarantee held) over seeded random halves; the
    same seed gives the same halves to every model measured on the same items."""
    n = groups[0].rows.size if groups else 0
    if n < 2:
        return 0.0, 1.0
    results = []
    for r in range(splits):
        perm = np.random.default_rng(seed * 100_003 + r).permutation(n)
        results.append(_half(groups, perm[: n // 2], perm[n // 2 :], alpha, delta))
    return round(float(np.mean([c for c, _ in results])), 4), round(float(np.mean([h for _, h in results])), 4)


def _stage_data(stages: list[Stage], items: Sequence[LabeledItem]) -> StageData:
    references = np.array([it.reference for it in items], dtype=float)
    tasks = [it.item.task for it in items]
    return [(s.score, agreement(s, references, tasks)) for s in stages]


def model_stage_data(model: RouterModel, items: Sequence[LabeledItem]) -> list[ScoredGroup]:
    """A stored model's scores on labeled items as live routing would give them (``route.input_stages``;
    items of sources it has no history for with its score for them), with each stage's agreement
    with the human reference."""
    inputs = [it.item for it in items]
    seen = seen_sources(model)
    unseen = np.array([domain_unseen(it.domain, seen) for it in inputs], dtype=bool)
    groups = [ScoredGroup(~unseen, _stage_data(input_stages(model, inputs), items), model.score_name)]
    if unseen.any():
        stages = _stage_data(input_stages(model, inputs, unseen=True), items)
        groups.append(ScoredGroup(unseen, stages, score_name_of(model, unseen=True), unseen=True))
    return groups


def calibration_groups(model: RouterModel) -> list[ScoredGroup]:
    """A model's own held-out calibration part (the fallback) as one group, by its main score: that
    part is drawn from the history its training part came from, so its sources have history
    (but for a source so rare that all its items fell into the held-out part)."""
    stages = calibration_stages(model)
    return [ScoredGroup(np.ones(stages[0][0].size, dtype=bool), stages, model.score_name)]


def recent_history(*, challenger: RouterModel, champion: RouterModel, items: Sequence[LabeledItem],
                   ids: Sequence[int]) -> list[LabeledItem]:
    """The items the challenger held out whose first label came after the champion was created."""
    held_out = {int(i) for i in (challenger.calibration or {}).get("example_ids", [])}
    fresh = examples_first_labeled_after(held_out, champion.created_at)
    return [it for it, pk in zip(items, ids, strict=True) if pk in held_out and pk in fresh]


def _measure(model: RouterModel, groups: list[ScoredGroup], seed: int) -> Measured:
    coverage, held = halves_backtest(groups, seed=seed)
    unseen = next((g for g in groups if g.unseen), None)
    return Measured(model.version, model.score_name, coverage, held, int(groups[0].rows.size) if groups else 0,
                    unseen.score_name if unseen else "", int(unseen.rows.sum()) if unseen else 0)


def _reason(challenger: Measured, champion: Measured, n_recent: int, fallback: bool) -> str:
    if fallback:
        text = (f"v{challenger.version} keeps {challenger.coverage:.2f} of its {challenger.n} held-out labels vs "
                f"v{champion.version} {champion.coverage:.2f} of its {champion.n} (only {n_recent} recent labels, "
                f"fewer than {PROMOTION_MIN_RECENT}: each measured on its own held-out part)")
    else:
        text = (f"v{challenger.version} keeps {challenger.coverage:.2f} vs {champion.coverage:.2f} "
                f"on {n_recent} recent labels")
    if challenger.coverage == champion.coverage:
        text += f"; a tie, guarantee held in {challenger.held:.0%} vs {champion.held:.0%} of splits"
    return text


def promotion_compare(*, challenger: RouterModel, champion: RouterModel, items: Sequence[LabeledItem],
                      ids: Sequence[int], seed: int = 0) -> dict[str, Any]:
    """Both models' backtest on recent history (or the fallback, see the module docstring), and
    whether the challenger wins."""
    recent = recent_history(challenger=challenger, champion=champion, items=items, ids=ids)
    fallback = len(recent) < PROMOTION_MIN_RECENT
    if fallback:
        ours, theirs = calibration_groups(challenger), calibration_groups(champion)
    else:
        ours, theirs = model_stage_data(challenger, recent), model_stage_data(champion, recent)
    mine, other = _measure(challenger, ours, seed), _measure(champion, theirs, seed)
    wins = mine.coverage > other.coverage or (mine.coverage == other.coverage and mine.held >= other.held)
    return {"challenger": asdict(mine), "champion": asdict(other), "n_recent": len(recent), "fallback": fallback,
            "alpha": PROMOTION_ALPHA, "delta": PROMOTION_DELTA, "splits": PROMOTION_SPLITS, "wins": wins,
            "reason": _reason(mine, other, len(recent), fallback)}


def _event(model: RouterModel, event: dict[str, Any]) -> None:
    """Append ``event`` (who did what; stamped with the time unless it says when) to the model's record."""
    events = (model.promotion or {}).get("events", [])
    model.promotion = {**(model.promotion or {}), "events": [*events, {"at": _now(), **event}]}


def _now() -> str:
    return timezone.now().isoformat(timespec="seconds")


def router_model_activate(*, model: RouterModel, event: dict[str, Any]) -> RouterModel:
    """Make ``model`` the only active version; the one it replaces is retired. Both record ``event``
    and the new one which version it replaced (a rollback returns to that one)."""
    with transaction.atomic():
        previous = list(RouterModel.objects.select_for_update().defer("blob").filter(is_active=True)
                        .exclude(pk=model.pk).order_by("-version"))
        for old in previous:
            _event(old, {**event, "action": "retired", "replaced_by": model.version})
            old.is_active, old.status = False, RouterModel.Status.RETIRED
            old.save(update_fields=["is_active", "status", "promotion"])
        _event(model, event)
        model.promotion["replaced"] = previous[0].version if previous else None
        model.is_active, model.status = True, RouterModel.Status.ACTIVE
        model.save(update_fields=["is_active", "status", "promotion"])
    return model


def _decision(challenger: RouterModel, champion: RouterModel | None, items: Sequence[LabeledItem],
              ids: Sequence[int], seed: int) -> dict[str, Any]:
    if champion is None or champion.pk == challenger.pk:
        return {"decision": ACTIVATED, "reason": "no active router", "champion_version": None}
    record: dict[str, Any] = {"champion_version": champion.version}
    stale = stale_reason(champion)
    if stale is not None:
        return {**record, "decision": ACTIVATED, "reason": stale}
    comparison = promotion_compare(challenger=challenger, champion=champion, items=items, ids=ids, seed=seed)
    wins = comparison.pop("wins")
    return {**record, **comparison, "decision": ACTIVATED if wins else REJECTED}


def router_promotion_decide(*, challenger: RouterModel, items: Sequence[LabeledItem], ids: Sequence[int],
                            seed: int = 0) -> RouterModel:
    """Activate a freshly trained version, or store it rejected, by the comparison of the module
    docstring (``items`` and ``ids`` are the labeled history it was trained on, with example ids)."""
    record = _decision(challenger, router_active(), items, ids, seed)
    record["decided_at"] = _now()
    challenger.promotion = {**(challenger.promotion or {}), **record}
    challenger.promotion["summary"] = promotion_summary(challenger)
    event = {"action": record["decision"], "by": "retrain", "at": record["decided_at"]}
    if record["decision"] == ACTIVATED:
        return router_model_activate(model=challenger, event=event)
    _event(challenger, event)
    challenger.status = RouterModel.Status.REJECTED
    challenger.save(update_fields=["status", "promotion"])
    return challenger


def router_model_promote(*, model: RouterModel, user: User, action: str = "promoted") -> RouterModel:
    """An admin makes a candidate, retired or rejected version active (``action`` "rolled back"
    when it is the one the active version replaced); who and when go into ``promotion``."""
    if model.is_active:
        raise PromotionError(f"v{model.version} is already active")
    if model.status not in PROMOTABLE:
        raise PromotionError(f"v{model.version} is {model.status}: only {', '.join(PROMOTABLE)} versions "
                             "can be made active")
    stale = stale_reason(model)
    if stale is not None:
        raise PromotionError(stale)
    event = {"action": action, "by": user.get_username(), "user_id": user.pk, "at": _now()}
    log.info("router v%s %s by %r", model.version, action, event["by"])
    return router_model_activate(model=model, event=event)


def promotion_summary(model: RouterModel) -> str:
    """One line on what a retrain decided: "v5 trained; kept v4 active: v5 keeps 0.41 vs 0.56 ..."."""
    record = model.promotion or {}
    champion, reason = record.get("champion_version"), record.get("reason", "")
    if record.get("decision") == REJECTED:
        return f"v{model.version} trained; kept v{champion} active: {reason}"
    if record.get("decision") == ACTIVATED:
        replacing = f", replacing v{champion}" if champion is not None else ""
        return f"v{model.version} trained and activated{replacing}: {reason}"
    if model.is_active:
        return f"v{model.version} is active; it was activated without a comparison"
    return f"v{model.version} trained; not compared with the active version yet"
