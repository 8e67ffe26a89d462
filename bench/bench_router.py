"""Router speed: scoring throughput (features + predict_proba, batched) and retraining on 50k
labeled examples (synthesized in memory by resampling and perturbing the real files' items)."""

from __future__ import annotations

import copy
import random
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCORE_ROWS = 20_000
RETRAIN_ROWS = 50_000


def _real_items() -> list:
    from routing.training.backtest import labeled_items

    items = []
    for name in ("llmbar.jsonl", "pandalm.jsonl"):
        found, _ = labeled_items((ROOT / "data" / name).read_text().splitlines())
        items += [it for it in found if it.verdict is not None]
    return items


def _synthesize(items: list, n: int, seed: int = 0) -> list:
    """Resample real items; perturb the prompt (one random word) and flip 5% of the outcomes."""
    from routing.training.backtest import labeled_item

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        base = rng.choice(items)
        item = copy.copy(base.item)
        item.prompt = f"{base.item.prompt} synth{rng.randrange(10**6)}"
        labeled = labeled_item(item, base.reference)
        if rng.random() < 0.05:
            labeled.agree = 1 - labeled.agree
        out.append(labeled)
    return out


def _per_s(name: str, rows: list, router, *, rebuild: bool = False) -> float:
    from threadpoolctl import threadpool_limits

    from routing.scoring.scoring import stages_of
    from routing.scoring.vectorized import ItemInput

    with threadpool_limits(limits=1):
        started = time.perf_counter()
        for lo in range(0, len(rows), 2_000):
            inputs = [it.item for it in rows[lo : lo + 2_000]]
            if rebuild:
                inputs = [ItemInput(domain=i.domain, task=i.task, prompt=i.prompt, responses=i.responses,
                                    judgments=i.judgments, primary_judge=i.primary_judge) for i in inputs]
            stages_of(name, inputs, router=router, order=["gpt-4", "pandalm-7b", "gpt-3.5-turbo"])
        return len(rows) / (time.perf_counter() - started)


def _scoring_per_s(items: list) -> dict[str, float]:
    """Live routing's scoring path (``route.router_stages`` minus the database) on a saved model:
    the learned score (``Router.predict``: features of a chunk with ``features_of``, then the
    linear form), the same with each ``ItemInput`` rebuilt from its judgments (signals included)
    as the live path does, and the judge-only scores (one pass over each item's votes)."""
    from routing.scoring.model import router_dumps, router_fit, router_loads

    fitted = router_fit([it.item for it in items], [it.agree for it in items])
    router = router_loads(router_dumps(fitted))  # the saved model, as routing loads it
    rng = random.Random(1)
    rows = [rng.choice(items) for _ in range(SCORE_ROWS)]
    return {
        "router_scoring_per_s": round(_per_s("learned", rows, router), 1),
        "router_scoring_with_inputs_per_s": round(_per_s("learned", rows, router, rebuild=True), 1),
        "router_scoring_judge_only_per_s": round(_per_s("order_weighted", rows, router), 1),
        "router_scoring_cascade_per_s": round(_per_s("cascade", rows, router), 1),
    }


def run() -> dict[str, float]:
    from routing.training.router_training import router_train_items

    items = _real_items()
    scoring = _scoring_per_s(items)
    started = time.perf_counter()
    synthetic = _synthesize(items, RETRAIN_ROWS)  # includes feature extraction of all 50k
    features_s = time.perf_counter() - started
    started = time.perf_counter()
    trained = router_train_items(synthetic, seed=0)
    train_s = time.perf_counter() - started
    return {
        **scoring,
        "router_retrain_50k_score": trained.score_name,
        "router_retrain_50k_s": round(features_s + train_s, 2),
        "router_retrain_50k_fit_only_s": round(train_s, 2),
        "router_retrain_50k_auroc": round(trained.metrics["auroc"] or 0.0, 3),
    }
