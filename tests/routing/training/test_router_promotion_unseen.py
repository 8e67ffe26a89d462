"""Champion and challenger score recent items of sources a model has no history for the way live
routing would: with the model's score for them, certified apart. The champion is trained on 170
MT-Bench items cut to 3 votes without probabilities (``judge_refined`` for MT-Bench,
``order_weighted`` for other sources); the recent labels are the other 30 MT-Bench items and all
of LLMBar (30 votes each, a source neither model has history for)."""

import copy
import json

import numpy as np
from django.urls import reverse

from bench.coarse_check import coarse_lines
from hybridqc.flows.imports import batch_import
from routing.batches.models import Example
from routing.decisions.route import input_stages
from routing.scoring.models import RouterModel
from routing.training.router_promotion import halves_backtest, model_stage_data, router_promotion_decide
from routing.training.router_training import human_label_count, labeled_history, router_model_save, router_train_items
from tests import factories

LINES = factories.data_lines("llmbar.jsonl")
LLMBAR = [line for line in LINES if json.loads(line)["domain"].startswith("llmbar/")]
MTBENCH = [line for line in LINES if json.loads(line)["domain"].startswith("mtbench/")]


def _coarse(lines: list[str]) -> list[str]:
    return coarse_lines(lines, 3, domains=("mtbench/",))


def _champion_and_history():
    """The champion (active), its Trained, and the labeled history once the later batch is in."""
    batch_import(batch_name="history", lines=_coarse(MTBENCH[:170]))
    items, ids = labeled_history()
    trained = router_train_items(items, seed=0, ids=ids)
    champion = router_model_save(trained=trained, n_labels_seen=human_label_count(), activate=True)
    batch_import(batch_name="later", lines=_coarse(MTBENCH[170:]) + LLMBAR)
    items, ids = labeled_history()
    return champion, trained, items, ids


def _challenger(trained, ids, unseen_score: str) -> RouterModel:
    """The champion's own fit and main score, holding out every later item (so they are its recent
    history), with another score for sources without history: it differs only on those items. The
    comparison on recent labels reads scores only, not the stored calibration."""
    later = set(Example.objects.filter(batch__name="later").values_list("pk", flat=True))
    copied = copy.deepcopy(trained)
    copied.calibration["example_ids"] = [pk for pk in ids if pk in later]
    copied.selection["unseen"]["score_name"] = unseen_score
    return router_model_save(trained=copied, n_labels_seen=human_label_count(), activate=False)


def test_router_promotion_rejects_a_challenger_worse_only_on_sources_without_history(db, client, lead_user):
    champion, trained, items, ids = _champion_and_history()
    assert (champion.score_name, champion.selection["unseen"]["score_name"]) == ("judge_refined", "order_weighted")
    assert champion.selection["unseen"]["seen_sources"] == ["mtbench"]
    challenger = _challenger(trained, ids, "vote_share")
    later = set(challenger.calibration["example_ids"])
    recent = [it for it, pk in zip(items, ids, strict=True) if pk in later]
    # the main score alone (all that was compared before) cannot tell them apart: a tie
    inputs = [it.item for it in recent]
    assert np.array_equal(input_stages(challenger, inputs)[0].score, input_stages(champion, inputs)[0].score,
                          equal_nan=True)
    ours, theirs = model_stage_data(challenger, recent), model_stage_data(champion, recent)
    assert [(g.score_name, int(g.rows.sum())) for g in ours] == [("judge_refined", 30), ("vote_share", 413)]
    assert [(g.score_name, int(g.rows.sum())) for g in theirs] == [("judge_refined", 30), ("order_weighted", 413)]
    assert halves_backtest(ours[:1]) == halves_backtest(theirs[:1])  # equal on the source with history
    decided = router_promotion_decide(challenger=challenger, items=items, ids=ids)
    p = decided.promotion
    assert (decided.status, p["decision"], p["fallback"], p["n_recent"]) == ("rejected", "rejected", False, 443)
    assert p["challenger"] == {"version": 2, "score_name": "judge_refined", "coverage": 0.6704, "held": 1.0,
                               "n": 443, "unseen_score_name": "vote_share", "n_unseen": 413}
    assert p["champion"] == {"version": 1, "score_name": "judge_refined", "coverage": 0.6774, "held": 1.0,
                             "n": 443, "unseen_score_name": "order_weighted", "n_unseen": 413}
    assert p["reason"] == "v2 keeps 0.67 vs 0.68 on 443 recent labels"
    assert list(RouterModel.objects.filter(is_active=True).values_list("version", flat=True)) == [1]
    client.force_login(lead_user)
    page = client.get(reverse("routing:model")).content.decode()
    assert 'data-unseen-score="vote_share" data-n-unseen="413">(vote_share on the 413 of sources without' in page
    assert 'data-unseen-score="order_weighted" data-n-unseen="413"' in page


def test_router_promotion_activates_a_challenger_equal_on_every_source(db):
    champion, trained, items, ids = _champion_and_history()
    decided = router_promotion_decide(challenger=_challenger(trained, ids, "order_weighted"), items=items, ids=ids)
    p = decided.promotion
    assert (decided.status, p["decision"], p["n_recent"]) == ("active", "activated", 443)
    assert (p["challenger"]["coverage"], p["champion"]["coverage"]) == (0.6774, 0.6774)
    assert p["reason"] == "v2 keeps 0.68 vs 0.68 on 443 recent labels; a tie, guarantee held in 100% vs 100% of splits"
