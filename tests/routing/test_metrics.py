import pytest

from routing.metrics import (
    expected_calibration_error,
    labels_agree,
    majority_label,
    rate,
    wilson_interval,
)


def test_wilson_interval_matches_hand_computed_values():
    # 8/10: centre (0.8 + 1.96²/20) / (1 + 1.96²/10), half-width by the Wilson formula.
    low, high = wilson_interval(8, 10)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)


def test_wilson_interval_at_the_edges_stays_in_unit_range():
    assert tuple(round(x, 4) for x in wilson_interval(0, 5)) == (0.0, 0.4345)
    assert tuple(round(x, 4) for x in wilson_interval(5, 5)) == (0.5655, 1.0)


def test_rate_with_no_observations_is_none():
    assert rate(0, 0) == (0, 0, None, None, None)


def test_rate_value_is_the_share():
    assert rate(3, 4).value == 0.75


def test_labels_agree_pairwise_and_rating():
    assert [labels_agree("pairwise", 1, 1), labels_agree("pairwise", 0, 1), labels_agree("pairwise", None, 1)] == [
        True, False, None]
    assert [labels_agree("rating", 4, 4.5), labels_agree("rating", 3, 4)] == [True, False]


def test_majority_label_tie_is_none():
    assert [majority_label([1, 1, 2]), majority_label([1, 2]), majority_label([])] == [1, None, None]


def test_expected_calibration_error_hand_computed():
    # two bins: 0.9 (accuracy 0.5) and 0.6 (accuracy 1.0), each half the items: 0.5*0.4 + 0.5*0.4
    assert expected_calibration_error([0.9, 0.9, 0.6, 0.6], [1, 0, 1, 1]) == pytest.approx(0.4)


def test_expected_calibration_error_rejects_empty_input():
    with pytest.raises(ValueError):
        expected_calibration_error([], [])
