"""Candidate scores, the cascade's certification and the choice among candidates, against hand values."""

import random

import numpy as np
import pytest

from routing.judging.models import Judgment
from routing.scoring.candidates import (
    JUDGE_ONLY,
    Stage,
    cascade_order,
    item_scores,
    judge_only_stages,
    refined,
    vote_distribution,
)
from routing.scoring.certify import cascade_keep, certify, certify_cascade, threshold_grid
from routing.scoring.model import router_fit
from routing.scoring.power import calibration_grid, expected_coverage, max_errors
from routing.scoring.scoring import stages_of
from routing.scoring.selection import Pool, candidate_choose, candidate_select, coarse_judge_scores, default_candidate
from routing.scoring.vectorized import ItemInput
from routing.training.backtest import LabeledItem, labeled_item


def _vote(judge: str, choice: int | None, probability: float | None = None, order: str = "ab", variant: str = "",
          tokens: int = 0) -> Judgment:
    return Judgment(judge=judge, choice=choice, probability=probability, order=order, variant=variant, sample=0,
                    prompt_tokens=tokens, error="" if choice is not None else "no usable verdict")


def _item(votes: list[Judgment], domain: str = "test/general", primary: str = "a") -> ItemInput:
    return ItemInput(domain=domain, task="pairwise", prompt="p", responses=["x", "y"], judgments=votes,
                     primary_judge=primary)


TWO_JUDGES = [
    _vote("a", 1, 0.9, "ab"), _vote("a", 1, 0.7, "ba"), _vote("a", 2, 0.6, "ab", "v2"), _vote("a", 1, 0.8, "ba", "v2"),
    _vote("b", 2, 0.95),
]


def test_vote_distribution_spreads_the_remainder_over_the_other_verdicts():
    assert vote_distribution(1, 0.8) == pytest.approx([0.0, 0.8, 0.2])
    assert vote_distribution(0, 0.6) == pytest.approx([0.6, 0.2, 0.2])
    assert vote_distribution(2, None) == [0.0, 0.0, 1.0]


def test_item_scores_match_hand_computed_values():
    scores = item_scores(_item(TWO_JUDGES))
    # judge a: distributions [0,.9,.1] [0,.7,.3] [0,.4,.6] [0,.8,.2] -> mean [0,.7,.3]; votes 3 x "1", 1 x "2"
    assert scores["vote_share"] == pytest.approx((1.0, 0.75))
    assert scores["mean_probability"] == pytest.approx((1.0, 0.7))
    assert scores["simulated_annotators"] == pytest.approx((1.0, 0.7))
    # order consistency: variant "" agrees across orders, v2 flips -> 0.5
    assert scores["order_weighted"] == pytest.approx((1.0, 0.35))
    # capped by the mean reported probability (0.9 + 0.7 + 0.6 + 0.8) / 4 = 0.75
    assert scores["judge_confidence"] == pytest.approx((1.0, 0.75))
    # judge b alone: [0, .05, .95]; the ensemble averages a and b: [0, .375, .625]
    assert scores["most_confident_judge"] == pytest.approx((2.0, 0.95))
    assert scores["judge_ensemble"] == pytest.approx((2.0, 0.625))


def test_item_scores_tied_votes_give_no_verdict():
    scores = item_scores(_item([_vote("a", 1, order="ab"), _vote("a", 2, order="ba")]))
    assert np.isnan(scores["vote_share"][0]) and np.isnan(scores["simulated_annotators"][1])


def test_cascade_order_is_cheapest_first_then_first_seen():
    cheap_b = _item([_vote("a", 1, tokens=100), _vote("b", 1, tokens=10)])
    assert cascade_order([cheap_b]) == ["b", "a"]
    assert cascade_order([_item([_vote("z", 1), _vote("a", 1)])]) == ["z", "a"]
    stages = judge_only_stages([_item(TWO_JUDGES)], order=["b", "a"])["cascade"]
    assert [(s.verdict[0], round(s.score[0], 3)) for s in stages] == [(2.0, 0.95), (1.0, 0.7)]


def test_certify_cascade_splits_delta_and_certifies_later_stages_on_what_is_left():
    rng = np.random.default_rng(0)
    first = np.r_[np.full(100, 0.9), np.full(100, 0.1)]
    first_ok = np.r_[np.ones(100, dtype=int), rng.permutation(np.r_[np.ones(50), np.zeros(50)]).astype(int)]
    second = np.r_[np.full(100, 0.5), np.full(100, 0.95)]
    second_ok = np.r_[np.zeros(100, dtype=int), np.ones(100, dtype=int)]
    certs = certify_cascade([first, second], [first_ok, second_ok], alpha=0.1, delta=0.1)
    assert [c.delta for c in certs] == [0.05, 0.05]
    assert certs[0].threshold == 0.9 and certs[0].n_kept == 100
    assert certs[1].n_calibration == 100 and certs[1].threshold == 0.95  # only the items stage 1 left
    assert certify_cascade([first], [first_ok], alpha=0.1, delta=0.1)[0].as_dict() == \
        certify(first, first_ok, alpha=0.1, delta=0.1).as_dict()
    keep = cascade_keep([np.array([0.9, 0.1, 0.1]), np.array([0.1, 0.95, 0.2])], [0.9, 0.95])
    assert keep.tolist() == [0, 1, -1]


def test_max_errors_is_the_largest_count_the_bound_allows():
    # 0 errors in 50: bound 1 - 0.1 ** (1 / 50) = 0.045; 3 in 50: 0.128; 4 in 50: 0.153 > 0.15
    assert max_errors(50, 0.15, 0.1) == 3
    assert max_errors(10, 0.15, 0.1) == -1  # 0 errors in 10 already bound 0.206


def test_expected_coverage_matches_hand_values():
    scores = np.r_[np.full(50, 0.9), np.full(50, 0.2)]
    correct = np.r_[np.ones(50, dtype=int), np.zeros(50, dtype=int)]
    stage = Stage(scores, np.ones(100))
    # 0.9 keeps half with no error: passes surely (0 <= 3 errors allowed in 50); 0.2 keeps all with
    # error rate 0.5: P(Binomial(100, 0.5) <= max_errors(100)) is ~0, so the expectation is 0.5
    assert expected_coverage([stage], [correct], n_calibration=100, alpha=0.15, delta=0.1) == pytest.approx(0.5)
    # 10 calibration items: certification starts by keeping all 10 (fewer than MIN_START_KEPT), at
    # the sample's error rate 0.5, which never passes
    assert expected_coverage([stage], [correct], n_calibration=10, alpha=0.15, delta=0.1) == 0.0
    # error rate 0.04 among the kept half: P(Binomial(50, 0.04) <= 3) = 0.861 of keeping it
    noisy = correct.copy()
    noisy[:2] = 0
    value = expected_coverage([stage], [noisy], n_calibration=100, alpha=0.15, delta=0.1)
    assert value == pytest.approx(0.5 * 0.8609, abs=1e-4)


def test_calibration_grid_reads_the_calibration_parts_shares_off_the_sample():
    scores = np.arange(100, 0, -1, dtype=float)
    # 1000 calibration items: the first threshold keeps start_kept(1000) = 100 of them (10%), the
    # next ones round(99 + 900 k / 19) + 1 = 147, 195, ...: the sample's 10th, 15th, 20th scores
    grid = calibration_grid(scores, 1000)
    assert grid[:3] == [91.0, 86.0, 81.0] and grid[-1] == 1.0 and len(grid) == 20
    # the sample's own size gives certification's own grid (it starts at half of 100 items)
    assert calibration_grid(scores, 100) == threshold_grid(scores) and threshold_grid(scores)[0] == 51.0
    # items without a score count towards neither: 100 of 200 scored at 2000 is 1000 scored
    assert calibration_grid(np.r_[scores, np.full(100, np.nan)], 2000) == grid


def test_candidate_choose_prefers_the_fixed_rule_within_the_margin():
    # margin 2 sqrt((0.52 0.48 + 0.49 0.51) / 300) = 0.082 > 0.03
    assert candidate_choose({"order_weighted": 0.49, "learned_text": 0.52}, fixed="order_weighted", n=300) == (
        "order_weighted")
    # with 3000 items the margin is 0.026 < 0.03
    assert candidate_choose({"order_weighted": 0.49, "learned_text": 0.52}, fixed="order_weighted", n=3000) == (
        "learned_text")


def test_candidate_choose_takes_the_larger_figure_over_a_fixed_rule_keeping_nothing():
    figures = {"judge_ensemble": 0.005, "learned": 0.03, "learned_text": 0.04}
    # within the margin (0.042), but the fixed rule's score keeps less than TIE; the larger figure
    # wins, not the simpler candidate
    assert candidate_choose(figures, fixed="judge_ensemble", n=100) == "learned_text"


def test_candidate_choose_uses_the_plain_learned_score_when_nothing_keeps_anything():
    figures = {"judge_ensemble": 0.0, "learned": 0.004, "learned_text": 0.006}
    assert candidate_choose(figures, fixed="judge_ensemble", n=100) == "learned"
    assert candidate_choose({"judge_ensemble": 0.0, "vote_share": 0.0}, fixed="judge_ensemble", n=100) == (
        "judge_ensemble")


def test_default_candidate_rule_follows_what_the_judgments_carry():
    assert default_candidate([_item([_vote("a", 1, order="ab"), _vote("a", 1, order="ba")])]) == "order_weighted"
    assert default_candidate([_item([_vote("a", 1)])]) == "simulated_annotators"
    assert default_candidate([_item([_vote("a", 1), _vote("b", 2)])]) == "judge_ensemble"
    assert default_candidate([_item([_vote("a", 1, 0.8), _vote("b", 2)])]) == "most_confident_judge"


def _domain_history(n: int, seed: int = 0, probability: float | None = None) -> list[LabeledItem]:
    """One vote per item: every judge-only score is constant. The judge is always right on domain
    easy/x and right half the time on hard/y: only a learned score can tell."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        easy = i % 2 == 0
        reference = 1 if easy or rng.random() < 0.5 else 2
        out.append(labeled_item(_item([_vote("a", 1, probability)], domain="easy/x" if easy else "hard/y"),
                                reference))
    return out


def test_coarse_judge_scores_count_the_primary_judges_votes_without_probabilities():
    nine = [_vote("a", 1, variant=f"v{k}") for k in range(9)]
    assert coarse_judge_scores([_item(nine)]) is True
    assert coarse_judge_scores([_item([*nine, _vote("a", 2, variant="v9")])]) is False  # 10 votes
    assert coarse_judge_scores([_item([_vote("a", 1, 0.9)])]) is False  # a probability ranks finely
    # the other judge's votes do not count: the primary judge still gives one
    assert coarse_judge_scores([_item([_vote("a", 1), *[_vote("b", 1, variant=f"v{k}") for k in range(12)]])]) is True
    assert coarse_judge_scores([]) is False
    # one finely judged item among coarse ones: the judge's order there still counts
    ten = [*nine, _vote("a", 2, variant="v9")]
    assert coarse_judge_scores([_item([_vote("a", 1)]), _item([_vote("a", 1)]), _item(ten)]) is False


def test_candidate_select_picks_a_learned_score_when_only_it_ranks_errors():
    # with a probability on every vote the judgments are not coarse: cross-validation decides
    pool = Pool.of(_domain_history(400, probability=0.8))
    history, target = np.arange(300), np.arange(300, 400)
    pick = candidate_select(pool, history, target, alpha=0.1, delta=0.1, n_calibration=200)
    assert pick.name == "learned" and pick.rule == "cross-validation (5 random folds)"
    assert pick.figures["vote_share"] == 0.0 and pick.figures["learned"] > 0.3


def test_candidate_select_uses_the_refined_judge_score_on_coarse_judgments():
    pool = Pool.of(_domain_history(400))
    pick = candidate_select(pool, np.arange(300), np.arange(300, 400), alpha=0.1, delta=0.1, n_calibration=200)
    assert pick.name == "judge_refined"
    assert pick.rule == "fixed rule: fewer than 10 verdicts per item without probabilities (coarse judge-only scores)"
    assert pick.figures["vote_share"] == 0.0 and pick.figures["learned"] > 0.3


def test_candidate_select_leaves_a_source_without_history_to_cross_validation_on_coarse_judgments():
    # the text-learned tie-breaker does not carry over to a source left out of the history
    pool = Pool.of(_domain_history(400))
    history, target = np.arange(300), np.arange(300, 400)
    unseen = np.array(["a" if i % 2 else "b" for i in range(300)] + ["c"] * 100)
    pick = candidate_select(pool, history, target, alpha=0.1, delta=0.1, n_calibration=200, groups=unseen)
    assert pick.rule == "cross-validation (2 source folds)"
    seen = np.array(["a" if i % 2 else "b" for i in range(300)] + ["a"] * 100)
    pick = candidate_select(pool, history, target, alpha=0.1, delta=0.1, n_calibration=200, groups=seen)
    assert pick.name == "judge_refined"


def test_candidate_select_uses_the_fixed_rule_on_little_history():
    pool = Pool.of(_domain_history(60))
    pick = candidate_select(pool, np.arange(40), np.arange(40, 60), alpha=0.1, delta=0.1, n_calibration=20)
    assert pick.name == "simulated_annotators" and pick.figures == {}
    assert pick.rule == "fixed rule: 40 labeled items in the history, cross-validation needs 50"


def test_candidate_select_leaves_out_learned_scores_fitted_on_few_items():
    pool = Pool.of(_domain_history(80))
    # 60 items in 5 folds: each fold's model would see 48 < 50 items
    pick = candidate_select(pool, np.arange(60), np.arange(60, 80), alpha=0.1, delta=0.1, n_calibration=20)
    assert pick.rule == "cross-validation (5 random folds)"
    assert set(pick.figures) == set(JUDGE_ONLY)


def test_refined_breaks_only_the_judge_scores_ties():
    judge = Stage(np.array([0.5, 0.5, 1.0, np.nan]), np.array([1.0, 2.0, 1.0, np.nan]))
    out = refined(judge, np.array([0.2, 0.9, 0.1, 0.5]))
    w = 1e-7
    assert out.score[:3].tolist() == pytest.approx([0.5 * (1 - w) + 0.2 * w, 0.5 * (1 - w) + 0.9 * w, 1 - 0.9 * w],
                                                   rel=1e-15, abs=0)
    assert np.isnan(out.score[3]) and out.score[2] <= 1.0
    assert out.verdict is judge.verdict
    assert np.argsort(-out.score[:3]).tolist() == [2, 1, 0]  # the judge's order first, the learned one within ties


def test_stages_of_judge_refined_is_the_order_weighted_score_refined_by_the_router():
    items = _domain_history(120)
    router = router_fit([it.item for it in items], [it.agree for it in items], text=True)
    inputs = [it.item for it in items[:6]]
    [live] = stages_of("judge_refined", inputs, router=router)
    [judge] = stages_of("order_weighted", inputs)
    assert live.score.tolist() == refined(judge, router.predict(inputs)).score.tolist()
    assert live.verdict.tolist() == [1.0] * 6
