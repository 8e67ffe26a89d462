import random

import pytest

from dashboard.label_accuracy import label_accuracy, ppi_mean
from dashboard.selectors import batch_report, release_gate
from tests.dashboard.trend_batches import dated_batch


def test_ppi_mean_hand_computed():
    # mean prediction on unlabeled: 2.3 / 3 = 0.766667, its variance of the mean 0.046667 / 2 / 3;
    # residuals [0.1, 0.2, -0.7, 0.1]: mean -0.075, weighted variance 0.131875, / n_eff 4 * 4/3;
    # se = sqrt(0.0077778 + 0.0439583) = 0.227456; half width 1.959964 * se = 0.445805
    est = ppi_mean([1, 1, 0, 1], [0.9, 0.8, 0.7, 0.9], [1, 1, 1, 1], [0.9, 0.8, 0.6])
    assert [round(x, 5) for x in est] == [0.69167, 0.24586, 1.13747]


def test_label_accuracy_all_human_is_exact_and_unmeasured_judge_is_none():
    assert tuple(label_accuracy(human=5, judge_only_predicted=[], audit_correct=[], audit_predicted=[],
                                audit_weights=[])) == (1.0, 1.0, 1.0)
    assert label_accuracy(human=5, judge_only_predicted=[0.9], audit_correct=[], audit_predicted=[],
                          audit_weights=[]) is None


@pytest.fixture
def september(db):
    return dated_batch("sep", "2026-09-14", kept=6, unsure=4, audit_labels=[1, 1, 1, 2], routed_labels=[2, 2, 1, 1])


def test_batch_report_estimated_label_accuracy_hand_computed(september):
    # 8 reviewed labels (4 audits, 4 routed) count as correct; 2 judge-only labels with confidence 1.0.
    # Judge part: 1.0 + mean residual (-0.25) = 0.75, se = sqrt(0.1875 / 4 * 4/3) = 0.25 -> 0.75 -+ 0.48999.
    # Batch: (8 + 2 * 0.75) / 10 = 0.95; low (8 + 2 * 0.26001) / 10 = 0.852; high clipped at 1.
    r = batch_report(september)
    assert round(r["estimated_label_accuracy"], 6) == 0.95
    assert [round(x, 4) for x in r["estimated_label_accuracy_ci"]] == [0.852, 1.0]


def test_release_gate_holds_below_the_minimum_label_accuracy(september, settings):
    settings.RELEASE_MIN_LABEL_ACCURACY = 0.9
    gate = release_gate(batch_report(september), 0.0)
    assert gate["reasons"] == ["estimated label accuracy lower bound 85.2% is below the minimum 90%"]
    settings.RELEASE_MIN_LABEL_ACCURACY = 0.85
    assert release_gate(batch_report(september), 0.0)["passed"] is True


def _simulated_batch(rng: random.Random) -> tuple[float, tuple]:
    """500 judge-kept items, the judge overconfident by 0.1; audits drawn with p = 0.05 above
    confidence 0.8 and 0.15 below; 300 reviewed human labels."""
    human, judge_only, correct, predicted, weights, right = 300, [], [], [], [], 0
    for _ in range(500):
        f = rng.uniform(0.6, 1.0)
        y = rng.random() < f - 0.1
        p = 0.05 if f >= 0.8 else 0.15
        if rng.random() < p:
            correct.append(y)
            predicted.append(f)
            weights.append(1 / p)
            human += 1
        else:
            judge_only.append(f)
            right += y
    truth = (human + right) / (human + len(judge_only))
    return truth, label_accuracy(human=human, judge_only_predicted=judge_only, audit_correct=correct,
                                 audit_predicted=predicted, audit_weights=weights)


def test_estimated_label_accuracy_ci_covers_the_truth_in_at_least_90_percent_of_200_batches():
    rng = random.Random(7)
    covered = 0
    for _ in range(200):
        truth, est = _simulated_batch(rng)
        covered += est.low <= truth <= est.high
    assert covered >= 180, f"covered {covered} of 200"
