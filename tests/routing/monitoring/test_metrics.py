from fractions import Fraction

import pytest

from routing.monitoring.metrics import (
    NO_WEIGHTS,
    WeightSums,
    expected_calibration_error,
    labels_agree,
    majority_label,
    rate,
    weighted_rate,
    weighted_rate_of_sums,
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


def test_weighted_rate_hand_computed_with_unequal_probabilities():
    # w = 1/p = [2, 2, 4, 4]; agree = [1, 0, 1, 1]: (2 + 4 + 4) / 12 = 5/6 (unweighted: 3/4).
    # n_eff = 12^2 / (4 + 4 + 16 + 16) = 3.6; Wilson at p = 5/6, n = 3.6, z = 1.96:
    # denom = 1 + z^2/3.6 = 2.0671, centre = (5/6 + z^2/7.2) / denom = 0.6613,
    # half = z * sqrt(5/36/3.6 + z^2/51.84) / denom = 0.3183.
    r = weighted_rate([True, False, True, True], [0.5, 0.5, 0.25, 0.25])
    assert (r.hits, r.n, r.value, r.n_eff) == (3, 4, 5 / 6, 3.6)
    assert (round(r.low, 4), round(r.high, 4)) == (0.343, 0.9795)


@pytest.mark.parametrize("p", [1.0, 0.3, 1 / 3, 0.05, 0.0123])
def test_weighted_rate_equal_probabilities_equal_the_unweighted_rate(p):
    outcomes = [True] * 7 + [False] * 3
    r = weighted_rate(outcomes, [p] * 10)
    assert (r.hits, r.n, r.value, r.low, r.high) == tuple(rate(7, 10))
    assert r.n_eff == 10


def test_weighted_rate_empty_is_none_and_bad_probabilities_raise():
    assert weighted_rate([], []) == (0, 0, None, None, None, None)
    with pytest.raises(ValueError):
        weighted_rate([True], [0.0])
    with pytest.raises(ValueError):
        weighted_rate([True, False], [0.5])


def test_weighted_rate_of_sums_parts_add_up_to_the_whole():
    # Weights 2, 4, 4 (p = 0.5, 0.25, 0.25), hits on the first and last: 6/10; n_eff = 100 / 36.
    first = WeightSums(hits=1, n=2, total=Fraction(6), hit_total=Fraction(2), square_total=Fraction(20))
    second = WeightSums(hits=1, n=1, total=Fraction(4), hit_total=Fraction(4), square_total=Fraction(16))
    whole = weighted_rate_of_sums(first.plus(second))
    assert whole == weighted_rate([True, False, True], [0.5, 0.25, 0.25])
    assert (whole.hits, whole.n, whole.value, whole.n_eff) == (2, 3, 0.6, 100 / 36)
    assert weighted_rate_of_sums(NO_WEIGHTS).value is None
