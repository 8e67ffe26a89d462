import json

import pytest
from django.core.management import call_command

from dashboard.judge_report import judge_report, response_models
from routing.decisions.models import RoutingDecision
from tests.dashboard.trend_batches import dated_batch

FLIPS = [{"judge": "judge-x", "order": "ab", "choice": 1}, {"judge": "judge-x", "order": "ba", "choice": 2}]


@pytest.fixture
def reviewed(db):
    # Audits (verdict 1) weighted 2, 2, 4, 4, labelled [1, 1, 2, 1]; routed (verdict 1) weighted 1,
    # labelled [1, 2]; a seventh item flips with the order (routed, no verdict: not in accuracy).
    fields = {
        0: {"responses": ["long answer here", "short"], "metadata": {"response_models": ["judge-x", "other"]}},
        1: {"responses": ["s", "much longer"]},
        2: {"responses": ["longer one", "x"], "metadata": {"models": "judge-x_o"}},
        3: {"responses": ["aa", "bb"]},
        4: {"responses": ["xx", "yyyy"]},
        5: {"responses": ["yyyy", "x"]},
    }
    batch = dated_batch("jr", "2026-10-01", kept=4, unsure=2, audit_labels=[1, 1, 2, 1], routed_labels=[1, 2, 1],
                        audit_probabilities=[0.5, 0.5, 0.25, 0.25], extra=[{"judgments": FLIPS}], fields=fields)
    decisions = RoutingDecision.objects.filter(example__batch=batch).order_by("example__line_number")
    for d, confidence in zip(decisions, [0.95, 0.95, 0.85, 0.85, 0.65, 0.65], strict=False):
        RoutingDecision.objects.filter(pk=d.pk).update(confidence=confidence)
    return batch


def test_judge_report_ece_and_length_bias_hand_computed(reviewed):
    [g] = judge_report()["groups"]
    assert (g["domain"], g["judge_version"], g["n"]) == ("test/general", "judge-x", 6)
    # correct with weight: 2 + 2 + 4 (audits 1, 2, 4) + 1 (first routed) = 9 of 14
    assert g["accuracy"] == pytest.approx(9 / 14, abs=1e-12)
    # bins: [0.9, 1) w 4 conf .95 acc 1; [0.8, 0.9) w 8 conf .85 acc .5; [0.6, 0.7) w 2 conf .65 acc .5
    # ECE = (4 * 0.05 + 8 * 0.35 + 2 * 0.15) / 14 = 3.3 / 14
    assert g["ece"] == pytest.approx(3.3 / 14, abs=1e-12)
    assert [(b["low"], b["n"], b["weight"], round(b["accuracy"], 6)) for b in g["reliability"]] == [
        (0.6, 2, 2.0, 0.5), (0.8, 2, 8.0, 0.5), (0.9, 2, 4.0, 1.0)]
    # unequal lengths: items 1, 2, 3 (w 2, 2, 4) and 5, 6 (w 1, 1): judge picks the longer in 1, 3, 6
    # (2 + 4 + 1 = 7 of 10), reviewers in 1 only (2 of 10): gap 0.5
    assert {k: round(v, 6) for k, v in g["length_bias"].items()} == {"judge": 0.7, "reviewers": 0.2, "gap": 0.5,
                                                                     "n": 5}
    # own model wrote response 1 of items 1 and 3 (w 2, 4): judge picks it in both, reviewers in item 1
    assert {k: round(v, 6) for k, v in g["self_preference"].items()} == {"judge": 1.0, "reviewers": 0.333333,
                                                                         "gap": 0.666667, "n": 2}


def test_judge_report_position_bias_counts_order_flips(reviewed):
    [g] = judge_report()["groups"]
    # the 4 kept items were asked in both orders and agree; the seventh flips: 1 of 5
    assert (g["position_bias"], g["position_bias_n"]) == (0.2, 5)


def test_judge_report_command_json_and_domain_prefix(reviewed, capsys):
    call_command("judge_report", "--json", "--domain", "test")
    assert [g["n"] for g in json.loads(capsys.readouterr().out)["groups"]] == [6]
    call_command("judge_report", "--json", "--domain", "mtbench")
    assert json.loads(capsys.readouterr().out) == {"groups": []}


def test_response_models_reads_lists_and_the_pandalm_form():
    assert response_models({"models": "bloom-7b_llama-7b"}) == ["bloom-7b", "llama-7b"]
    assert response_models({"response_models": ["A", "b"]}) == ["a", "b"]
    assert response_models({"models": "a_b_c"}) is None
    assert response_models({"source": "LLMBar"}) is None
