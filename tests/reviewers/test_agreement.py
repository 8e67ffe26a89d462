"""Cohen's kappa and Krippendorff's alpha against values computed by hand."""

import pytest

from reviewers.agreement import cohen_kappa, krippendorff_alpha_nominal


def test_cohen_kappa_hand_computed():
    # p_o = 7/10; rater a: six 1s, four 2s; rater b: five of each; p_e = (6*5 + 4*5)/100 = 0.5
    a = [1, 1, 2, 2, 1, 2, 1, 1, 2, 1]
    b = [1, 2, 2, 2, 1, 1, 1, 1, 2, 2]
    assert cohen_kappa(a, b) == pytest.approx((0.7 - 0.5) / (1 - 0.5))


def test_cohen_kappa_three_categories_hand_computed():
    # p_o = 4/6; a: 0:2, 1:2, 2:2; b: 0:1, 1:3, 2:2; p_e = (2*1 + 2*3 + 2*2)/36 = 1/3
    a = [0, 0, 1, 1, 2, 2]
    b = [0, 1, 1, 1, 2, 0]
    assert cohen_kappa(a, b) == pytest.approx((4 / 6 - 1 / 3) / (1 - 1 / 3))
    assert cohen_kappa(a, b) == pytest.approx(0.5)


def test_cohen_kappa_perfect_and_undefined():
    assert cohen_kappa([1, 2, 1], [1, 2, 1]) == pytest.approx(1.0)
    assert cohen_kappa([1, 1], [1, 1]) is None
    assert cohen_kappa([], []) is None
    with pytest.raises(ValueError):
        cohen_kappa([1], [1, 2])


def test_krippendorff_alpha_nominal_hand_computed():
    # coincidences: o11 = 2 + 3 = 5, o22 = 2, o12 = o21 = 1; n1 = 6, n2 = 3, n = 9
    # alpha = 1 - (n - 1) * (o12 + o21) / (n1*n2 + n2*n1) = 1 - 8 * 2 / 36 = 5/9
    units = [[1, 1], [2, 2], [1, 2], [1, 1, 1], [2]]
    assert krippendorff_alpha_nominal(units) == pytest.approx(5 / 9)


def test_krippendorff_alpha_two_raters_no_missing():
    # two raters, 4 items: (a,a) (a,b) (b,b) (b,b): o_aa=2, o_ab=o_ba=1, o_bb=4; n_a=3, n_b=5, n=8
    # alpha = 1 - 7 * 2 / (2 * 3 * 5) = 1 - 14/30 = 8/15
    units = [["a", "a"], ["a", "b"], ["b", "b"], ["b", "b"]]
    assert krippendorff_alpha_nominal(units) == pytest.approx(8 / 15)


def test_krippendorff_alpha_undefined_without_variation():
    assert krippendorff_alpha_nominal([[1, 1], [1, 1]]) is None
    assert krippendorff_alpha_nominal([[1], [2]]) is None
