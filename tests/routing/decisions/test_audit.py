import random

import pytest

from hybridqc.flows.batches import batch_route
from routing.decisions.audit import _domain_draw, audit_allocation, audit_reason, audit_total
from routing.decisions.models import RoutingDecision, RoutingRun
from tests import factories


def test_audit_total_is_the_rounded_rate_and_never_more_than_kept():
    assert [audit_total(0.05, 500), audit_total(0.05, 496), audit_total(0.05, 10), audit_total(1.5, 7)] == [
        25, 25, 0, 7]


def test_audit_allocation_gives_the_floor_when_it_fits_then_spreads_the_rest():
    # floors min(8, size) = 8 + 8 + 5 = 21 of 30; the other 9 by items beyond the floor (92, 2, 0):
    # 9 * 92/94 = 8.81 and 9 * 2/94 = 0.19 -> 8 and 0, the last one to the largest remainder.
    assert audit_allocation({1: 100, 2: 10, 3: 5}, 30, 8, random.Random(0)) == {1: 17, 2: 8, 3: 5}


def test_audit_allocation_is_proportional_when_the_floor_does_not_fit():
    # floors 8 + 8 + 5 > 6: shares 6 * (100, 10, 5) / 115 = 5.22, 0.52, 0.26 -> 5, 1, 0
    assert audit_allocation({1: 100, 2: 10, 3: 5}, 6, 8, random.Random(0)) == {1: 5, 2: 1, 3: 0}


def test_audit_allocation_breaks_equal_remainders_by_seed_not_by_domain_order():
    sizes = {k: 10 for k in range(50)}
    first = audit_allocation(sizes, 25, 30, random.Random("a"))
    assert sorted(first.values()) == [0] * 25 + [1] * 25
    assert first == audit_allocation(sizes, 25, 30, random.Random("a"))
    assert first != audit_allocation(sizes, 25, 30, random.Random("b"))
    assert [k for k, v in first.items() if v] != list(range(25))


@pytest.mark.parametrize("scored", [True, False])
def test_audit_inclusion_probabilities_weight_back_to_the_domain_size(db, scored):
    examples = factories.make_examples(37)
    items = [RoutingDecision(example=e, route="judge", score=i / 37 if scored else None, reason="")
             for i, e in enumerate(examples)]
    draws = _domain_draw(items, 8, random.Random(3))
    assert len(draws) == len({d.example.pk for d, _ in draws}) == 8
    assert sum(1 / p for _, p in draws) == pytest.approx(37)


def test_audit_reason_states_the_rate_applied():
    assert audit_reason(24, 496, by_score=True) == (
        "sampled for audit (24 of 496 judge-kept = 4.8%, stratified by domain and score)")


def test_audit_share_of_a_batch_with_many_small_domains_stays_within_its_rate(db):
    items = [factories.pairwise_item(i, domain=f"test/d{i // 10:02d}") for i in range(500)]
    batch = factories.batch("small-domains", items=items, audit_rate=0.05, audit_min_per_domain=30).batch
    assert batch_route(batch=batch) == 500
    decisions = RoutingDecision.objects.filter(example__batch=batch)
    assert decisions.filter(route="judge").count() == 500
    audits = list(decisions.filter(audit=True).select_related("example"))
    assert len(audits) == round(0.05 * 500) == 25
    assert len({d.example.domain_id for d in audits}) == 25  # one audit in each of 25 domains
    assert {d.audit_probability for d in audits} == {0.1}  # 1 of a domain's 10 kept items
    assert not decisions.filter(audit=False).exclude(audit_probability=None).exists()
    assert {d.reason for d in audits} == {
        "confidence 1.00 >= threshold 0.80; sampled for audit (25 of 500 judge-kept = 5.0%, stratified by domain)"}
    run = RoutingRun.objects.get(batch=batch)
    assert (run.mode, run.n_routed, run.n_judge_kept, run.n_audited, run.n_judge_only) == (
        "threshold", 500, 500, 25, 475)
