"""Live scoring with a stored router's chosen candidate: the stages of one named candidate.

The backtest computes every candidate at once (``candidates.judge_only_stages``); live routing
needs only the one the model chose, so this computes just that (a learned candidate needs the
fitted ``Router``; a cascade needs the judge order fixed at training).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from routing.scoring.candidates import LEARNED, Stage, cascade_stages, item_scores, refined
from routing.scoring.model import Router
from routing.scoring.vectorized import ItemInput, verdicts_of


def primary_verdicts(items: Sequence[ItemInput]) -> np.ndarray:
    """The primary judge's verdict per item as floats (NaN = none): the majority choice for
    pairwise items, the median rating for rating items."""
    choices = verdicts_of(items)
    out = [it.signals.verdict_rating if it.task == "rating" else c for it, c in zip(items, choices, strict=True)]
    return np.array([np.nan if v is None else v for v in out], dtype=float)


def stages_of(name: str, items: Sequence[ItemInput], *, router: Router | None = None,
              order: Sequence[str] = ()) -> list[Stage]:
    """The stages of candidate ``name`` for ``items`` (see the module docstring)."""
    if name in LEARNED:
        if router is None:
            raise ValueError(f"candidate {name} needs a fitted router")
        verdict = primary_verdicts(items)
        score = np.where(np.isfinite(verdict), router.predict(items) if items else np.zeros(0), np.nan)
        return [refined(_judge_stage("order_weighted", items), score) if name == "judge_refined"
                else Stage(score, verdict)]
    if name == "cascade":
        return cascade_stages(items, order)
    return [_judge_stage(name, items)]


def _judge_stage(name: str, items: Sequence[ItemInput]) -> Stage:
    pairs = [item_scores(it).get(name, (np.nan, np.nan)) for it in items]
    return Stage(np.array([p[1] for p in pairs], dtype=float), np.array([p[0] for p in pairs], dtype=float))
