"""What "mark agreed items as gold" would mark, listed before it is confirmed: a dry run of
``batch_gold_from_labels`` itself, with a token of the state it ran on (``hybridqc.confirm``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max

from hybridqc.confirm import dry_run, preview_check, preview_token
from reviewers.models import HumanLabel
from routing.batches.models import Batch, Example

from .gold import batch_gold_from_labels

GOLD = "batch-gold-from-labels"


@dataclass
class GoldPreview:
    batch: Batch
    examples: list[Example]  # the examples that would become gold (not gold yet)
    token: str


def _gold_ids(batch: Batch) -> list[int]:
    return sorted(batch.examples.filter(is_gold=True).values_list("pk", flat=True))


def _state(batch: Batch) -> dict[str, Any]:
    labels = HumanLabel.objects.filter(example__batch=batch).aggregate(n=Count("id"), last=Max("id"))
    return {"gold": _gold_ids(batch), "labels": labels}


def batch_gold_preview(*, batch: Batch) -> GoldPreview:
    """The examples ``batch_gold_from_labels`` would newly mark, with the token to confirm it."""
    before = set(_gold_ids(batch))

    def mark() -> list[int]:
        batch_gold_from_labels(batch=batch)
        return [pk for pk in _gold_ids(batch) if pk not in before]

    new = dry_run(mark)
    examples = list(Example.objects.filter(pk__in=new).select_related("domain").order_by("line_number", "pk"))
    return GoldPreview(batch, examples, preview_token(action=GOLD, state=_state(batch), summary={"n": len(new)}))


def batch_gold_confirmed(*, batch: Batch, token: str) -> int:
    """Mark the batch's agreed examples as gold if ``token`` previewed this very state (else 409)."""
    preview_check(token=token, action=GOLD, state=_state(batch))
    return batch_gold_from_labels(batch=batch)
