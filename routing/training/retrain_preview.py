"""The confirmation step of "Retrain now": which router the new version competes with, how many
labeled examples it would train on, and the promotion rule that decides whether it replaces the
active one. Training is not dry-run (it takes minutes and its result is decided by that rule);
the token covers the state those facts were read from (``hybridqc.confirm``)."""

from __future__ import annotations

from typing import Any

from django.db.models import Max

from hybridqc.confirm import Preview, preview_check, preview_token
from routing.batches.selectors import human_label_count
from routing.scoring.selectors import router_active, router_latest
from routing.training.models import RetrainJob
from routing.training.router_training import labeled_history

RETRAIN = "router-retrain"


def router_retrain_facts() -> dict[str, Any]:
    """What a retrain would start from: the active version (None: cold start), the labeled
    examples with a usable verdict it trains on, and every stored human label."""
    active = router_active()
    items, _ = labeled_history()
    return {"active": active.version if active else None, "train_on": len(items), "labels": human_label_count()}


def promotion_rule(active: int | None) -> str:
    if active is None:
        return "There is no active router, so the new version becomes the active one."
    return (f"The new version replaces v{active} only if it keeps at least as much work with the judge as v{active} "
            "at the same guarantee, measured on labeled examples neither was trained on; otherwise it is stored "
            f"as rejected and v{active} stays active.")


def _state(facts: dict[str, Any]) -> dict[str, Any]:
    latest = router_latest()
    return {**facts, "latest": latest.version if latest else None,
            "jobs": RetrainJob.objects.aggregate(last=Max("id"))["last"]}


def router_retrain_preview() -> Preview:
    """The facts of a retrain now, with the token to confirm it."""
    facts = router_retrain_facts()
    active = facts["active"]
    shown = (("active", "active router", f"v{active}" if active else "none (cold start)"),
             ("train_on", "labeled examples it would train on", facts["train_on"]),
             ("labels", "human labels stored", facts["labels"]),
             ("rule", "promotion rule", promotion_rule(active)))
    token = preview_token(action=RETRAIN, state=_state(facts), summary=facts)
    return Preview(RETRAIN, {}, {}, token, "train a new router version on every labeled example", facts=shown,
                   note="Batches routed after it is activated use it; batches routed already keep their decisions.")


def router_retrain_check(*, token: str) -> None:
    """Nothing if ``token`` previewed a retrain on this very state; else ``ConfirmationError``."""
    preview_check(token=token, action=RETRAIN, state=_state(router_retrain_facts()))
