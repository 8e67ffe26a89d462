"""Reads for the router: the stored router versions and the router's view of stored examples."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from django.db.models import QuerySet

from routing.batches.models import Example
from routing.judging.models import Judgment
from routing.scoring.models import RouterModel
from routing.scoring.vectorized import ItemInput


def example_inputs(examples: Sequence[Example], primary_judge: str | None = None) -> list[ItemInput]:
    """The router's view of stored examples (same ``ItemInput`` the backtest builds from a file).

    ``primary_judge`` defaults to each example's batch primary judge."""
    by_example: dict[int, list[Judgment]] = defaultdict(list)
    for j in Judgment.objects.filter(example__in=examples).order_by("id"):
        by_example[j.example_id].append(j)
    return [
        ItemInput(
            domain=e.domain.path,
            task=e.task,
            prompt=e.prompt,
            responses=e.responses,
            judgments=by_example.get(e.pk, []),
            primary_judge=primary_judge if primary_judge is not None else e.batch.primary_judge,
            flagged=e.flagged,
        )
        for e in examples
    ]


def router_active() -> RouterModel | None:
    return RouterModel.objects.filter(is_active=True).order_by("-version").first()


def router_models() -> QuerySet[RouterModel]:
    return RouterModel.objects.defer("blob").order_by("-version")


def router_latest() -> RouterModel | None:
    """The last trained version, active or not."""
    return RouterModel.objects.defer("blob").order_by("-version").first()


def router_previous_active(active: RouterModel) -> RouterModel | None:
    """The version ``active`` replaced (what a rollback returns to); for versions activated
    before that was recorded, the newest retired one."""
    others = RouterModel.objects.defer("blob").exclude(pk=active.pk)
    replaced = (active.promotion or {}).get("replaced")
    found = others.filter(version=replaced).first() if replaced is not None else None
    return found or others.filter(status=RouterModel.Status.RETIRED).order_by("-version").first()
