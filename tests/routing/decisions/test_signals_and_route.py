import threading

from django.db import connection

from hybridqc.flows.batches import batch_route
from reviewers.models import ReviewTask
from routing.decisions.models import RoutingDecision
from routing.judging.models import Judgment
from routing.judging.signals import signals_from
from tests import factories


def _j(choice, order="ab", variant="v", prob=None, error=""):
    return Judgment(judge="g", choice=choice, order=order, variant=variant, probability=prob, error=error)


def test_signals_from_vote_share_and_order_consistency():
    votes = [_j(1, "ab", "a"), _j(1, "ba", "a"), _j(1, "ab", "b"), _j(2, "ba", "b"), _j(None, error="x")]
    s = signals_from(votes, "pairwise")
    assert (s.n_votes, s.n_usable, s.verdict, s.vote_share) == (5, 4, 1, 0.75)
    assert (s.order_consistency, s.position_biased, s.parse_failures) == (0.5, False, 1)


def test_signals_from_marks_a_verdict_that_flips_with_order_as_position_biased():
    s = signals_from([_j(1, "ab"), _j(2, "ba")], "pairwise")
    assert (s.tied, s.verdict, s.position_biased, s.order_consistency) == (True, None, True, 0.0)


def test_signals_from_mean_probability():
    s = signals_from([_j(2, prob=0.9), _j(2, "ba", prob=0.7)], "pairwise")
    assert round(s.mean_probability, 6) == 0.8


def test_signals_from_all_failed_keeps_the_reason():
    s = signals_from([_j(None, error="judge failed: timeout after 3 tries")], "pairwise")
    assert (s.n_usable, s.failure_reason) == (0, "judge failed: timeout after 3 tries")


def test_batch_route_threshold_reasons(db, reviewer_user):
    items = [
        factories.pairwise_item(0),  # 2/2 votes for 1: kept
        factories.pairwise_item(1, judgments=[{"judge": "judge-x", "choice": 1}, {"judge": "judge-x", "choice": 2},
                                              {"judge": "judge-x", "choice": 2}]),  # 0.67 < 0.8
        factories.pairwise_item(2, judgments=[{"judge": "judge-x", "choice": None}]),
        factories.pairwise_item(3, judgments=[{"judge": "judge-x", "order": "ab", "choice": 1},
                                              {"judge": "judge-x", "order": "ba", "choice": 2}]),
    ]
    result = factories.batch("r", items=items, audit_rate=0.0, audit_min_per_domain=0)
    batch_route(batch=result.batch)
    got = {d.example.external_id: (d.route, d.reason) for d in RoutingDecision.objects.select_related("example")}
    assert got == {
        "item-0": ("judge", "confidence 1.00 >= threshold 0.80"),
        "item-1": ("human", "confidence 0.67 below threshold 0.80"),
        "item-2": ("human", "no usable judge verdict (no usable verdict)"),
        "item-3": ("human", "tied judge vote (2 votes)"),
    }


def test_batch_route_is_idempotent_and_audits_a_share(db, reviewer_user):
    result = factories.batch("a", items=[factories.pairwise_item(i) for i in range(40)], audit_rate=0.1,
                             audit_min_per_domain=0)
    assert batch_route(batch=result.batch) == 40
    assert batch_route(batch=result.batch) == 0
    assert RoutingDecision.objects.filter(audit=True).count() == 4

    assert ReviewTask.objects.filter(kind="audit", example__batch=result.batch).count() == 4


def test_batch_route_concurrent_deliveries_route_each_example_once(transactional_db, reviewer_user):
    batch = factories.batch("race", items=[factories.pairwise_item(i) for i in range(30)], audit_rate=0.5,
                            audit_min_per_domain=0).batch
    barrier = threading.Barrier(2)
    results = []

    def deliver():
        barrier.wait()
        try:
            results.append(batch_route(batch=batch))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 30]
    assert RoutingDecision.objects.filter(example__batch=batch).count() == 30
    assert ReviewTask.objects.filter(example__batch=batch).count() == 15
