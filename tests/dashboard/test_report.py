import json

import pytest
from django.core.management import call_command

from dashboard.selectors import batch_counts, batch_domain_rows, batch_report, release_gate
from hybridqc.flows.batches import batch_route
from reviewers.models import HumanLabel, ReviewTask
from reviewers.services import example_reference_refresh
from routing.decisions.models import RoutingDecision
from routing.monitoring.metrics import rate, weighted_rate
from tests import factories

KEPT = [{"judge": "judge-x", "order": "ab", "choice": 1}, {"judge": "judge-x", "order": "ba", "choice": 1}]
UNSURE = [{"judge": "judge-x", "choice": 1}, {"judge": "judge-x", "choice": 1}, {"judge": "judge-x", "choice": 2}]


def _label(example, choice, kind):
    task = ReviewTask.objects.get(example=example, kind=kind)
    HumanLabel.objects.create(example=example, task=task, source="review", choice=choice)
    example_reference_refresh(example_ids=[example.pk])  # as every service writing a review label does
    task.status = ReviewTask.Status.DONE
    task.save()


@pytest.fixture
def reviewed_batch(db, reviewer_user):
    items = [factories.pairwise_item(i, judgments=KEPT) for i in range(6)]
    items += [factories.pairwise_item(i, judgments=UNSURE) for i in range(6, 10)]
    batch = factories.batch("rep", items=items, audit_rate=0.0, audit_min_per_domain=0).batch
    batch_route(batch=batch)
    kept = list(RoutingDecision.objects.filter(route="judge").order_by("example__line_number"))[:4]
    for d in kept:
        d.audit = True
        d.save()
        ReviewTask.objects.create(example=d.example, kind="audit", status="open")
    for d, choice in zip(kept, [1, 1, 1, 2], strict=True):
        _label(d.example, choice, "audit")
    routed = RoutingDecision.objects.filter(route="human").order_by("example__line_number")
    for d, choice in zip(routed, [2, 2, 1, 1], strict=True):
        _label(d.example, choice, "routed")
    return batch


def test_batch_report_hand_computed(reviewed_batch):
    r = batch_report(reviewed_batch)
    assert {k: r[k] for k in ("examples", "judge_kept", "routed_to_human", "audited", "human_tasks", "human_done")} == {
        "examples": 10, "judge_kept": 6, "routed_to_human": 4, "audited": 4, "human_tasks": 8, "human_done": 8}
    # audits: 3 of 4 reviewers agree with the judge's verdict 1; routed: 2 of 4 overturn verdict 1
    assert (r["audit_agreement"], r["audit_agreement_n"], r["override_rate"], r["override_rate_n"]) == (0.75, 4, 0.5, 4)
    assert [round(x, 4) for x in r["audit_agreement_ci"]] == [0.3006, 0.9544]


def _set_audit_probabilities(batch, probabilities):
    audits = RoutingDecision.objects.filter(example__batch=batch, audit=True).order_by("example__line_number")
    for d, p in zip(audits, probabilities, strict=True):
        RoutingDecision.objects.filter(pk=d.pk).update(audit_probability=p)


def test_batch_report_audit_agreement_is_weighted_by_inclusion_probability(reviewed_batch):
    # audits agree [1, 1, 1, 0]; w = 1/p = [2, 2, 4, 4]: (2 + 2 + 4) / 12 = 2/3 (unweighted 3/4);
    # n_eff = 12^2 / (4 + 4 + 16 + 16) = 3.6; Wilson at p = 2/3, n = 3.6: denom 2.0671,
    # centre (2/3 + 1.96^2/7.2) / denom = 0.5806, half 1.96 * sqrt(2/9/3.6 + 1.96^2/51.84) / denom = 0.3495
    _set_audit_probabilities(reviewed_batch, [0.5, 0.5, 0.25, 0.25])
    r = batch_report(reviewed_batch)
    expected = weighted_rate([True, True, True, False], [0.5, 0.5, 0.25, 0.25])
    assert (r["audit_agreement"], r["audit_agreement_n"], r["audit_agreement_n_eff"]) == (2 / 3, 4, 3.6)
    assert r["audit_agreement_ci"] == [expected.low, expected.high]
    assert [round(x, 4) for x in r["audit_agreement_ci"]] == [0.2312, 0.9301]


def test_batch_report_equal_audit_probabilities_give_the_unweighted_agreement(reviewed_batch):
    _set_audit_probabilities(reviewed_batch, [0.05] * 4)
    r = batch_report(reviewed_batch)
    unweighted = rate(3, 4)
    assert (r["audit_agreement"], r["audit_agreement_n_eff"]) == (unweighted.value, 4)
    assert r["audit_agreement_ci"] == [unweighted.low, unweighted.high]


def test_batch_report_judge_only_is_kept_and_not_audited(reviewed_batch, client, lead_user):
    r = batch_report(reviewed_batch)
    assert (r["judge_kept"], r["audited"], r["judge_only"], r["judge_only_share"]) == (6, 4, 2, 0.2)
    client.force_login(lead_user)
    assert 'data-judge-only="2"' in client.get("/control/").content.decode()
    assert 'data-judge-only="2"' in client.get(f"/control/batch/{reviewed_batch.pk}/").content.decode()
    body = client.get(f"/control/batch/{reviewed_batch.pk}/router/").content.decode()
    assert 'data-judge-only="2"' in body and 'data-coverage="0.2"' in body


def test_release_gate_holds_when_agreement_bound_is_low(reviewed_batch):
    gate = release_gate(batch_report(reviewed_batch), 0.9)
    assert gate == {"passed": False, "target": 0.9,
                    "reasons": ["audit agreement lower bound 30.1% is below the target 90%"]}


def test_batch_report_command_json_keys(reviewed_batch, capsys):
    call_command("batch_report", "rep", "--json")
    data = json.loads(capsys.readouterr().out)
    assert (data["examples"], data["judge_kept"], data["routed_to_human"], data["audited"], data["human_done"],
            data["audit_agreement"], data["override_rate"]) == (10, 6, 4, 4, 8, 0.75, 0.5)
    assert (data["judge_only"], data["judge_only_share"], data["audit_agreement_n_eff"]) == (2, 0.2, 4.0)


def test_batch_report_nothing_measured_is_null(db, reviewer_user):
    batch = factories.batch("empty", audit_rate=0.0, audit_min_per_domain=0).batch
    batch_route(batch=batch)
    r = batch_report(batch)
    assert (r["audit_agreement"], r["override_rate"]) == (None, None)


def test_batch_domain_rows_count_with_the_batch_decision_counts(reviewed_batch):
    [row] = batch_domain_rows(reviewed_batch)
    counts = batch_counts(reviewed_batch)
    assert row == {"domain": "test/general", "n": 10, "judge_kept": 6, "human": 4, "audited": 4}
    assert (counts["routed"], counts["judge_kept"], counts["routed_to_human"], counts["audited"]) == (10, 6, 4, 4)
