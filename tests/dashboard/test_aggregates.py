import psycopg
import pytest
from django.db import connection

from dashboard.aggregates import counts_by_batch, reviewed_rows
from dashboard.models import BatchStats
from dashboard.selectors import batch_domain_rows, batch_report, batches_reports, release_gate, reviewed_reference
from dashboard.stats import FORMAT
from hybridqc.flows.batches import batch_route
from reviewers.models import HumanLabel, ReviewTask
from reviewers.services import example_reference_refresh
from routing.batches.models import Domain, Example
from tests import factories

UNSURE = [{"judge": "judge-x", "choice": 1}, {"judge": "judge-x", "choice": 1}, {"judge": "judge-x", "choice": 2}]
KEPT = [{"judge": "judge-x", "order": "ab", "choice": 1}, {"judge": "judge-x", "order": "ba", "choice": 1}]


def _label(example, choice, kind="second"):
    task = ReviewTask.objects.create(example=example, kind=kind, status="done")
    HumanLabel.objects.create(example=example, task=task, source="review", choice=choice)
    example_reference_refresh(example_ids=[example.pk])  # as every service writing a review label does


@pytest.fixture
def routed_batch(db):
    """Five examples routed to humans (judge verdict 1), with review labels as in the test below."""
    items = [factories.pairwise_item(i, judgments=UNSURE) for i in range(5)]
    batch = factories.batch("refs", items=items, audit_rate=0.0, audit_min_per_domain=0).batch
    batch_route(batch=batch)
    ex = {e.external_id: e for e in Example.objects.filter(batch=batch)}
    for choice in (1, 1):
        _label(ex["item-0"], choice)
    for choice in (1, 2):
        _label(ex["item-1"], choice)
    for choice in (1, 1):
        _label(ex["item-2"], choice)
    _label(ex["item-2"], 2, kind="adjudication")
    _label(ex["item-3"], 2)
    _label(ex["item-3"], None, kind="adjudication")
    for choice in (1, 2, 2):
        _label(ex["item-4"], choice)
    return batch


def test_reviewed_rows_reference_is_adjudicated_else_majority(routed_batch):
    # item-0: 1, 1 -> 1; item-1: 1 vs 2 tie -> none; item-2: adjudicated 2 over a majority of 1;
    # item-3: an adjudication without a value decides: none; item-4: 2 of 3 -> 2.
    rows = reviewed_rows([routed_batch.pk])
    ids = dict(Example.objects.filter(batch=routed_batch).values_list("pk", "external_id"))
    assert {ids[r.example_id]: r.reference for r in rows} == {"item-0": 1.0, "item-2": 2.0, "item-4": 2.0}
    python = reviewed_reference(routed_batch)
    assert {ids[k]: v for k, v in python.items()} == {"item-0": 1.0, "item-2": 2.0, "item-4": 2.0}


def test_override_rate_counts_overturned_routed_items(routed_batch):
    r = batch_report(routed_batch)
    # references 1, 2, 2 against the judge's 1: two of three overturned
    assert (r["override_rate"], r["override_rate_n"]) == (2 / 3, 3)
    assert (r["audit_agreement"], r["audit_agreement_n"]) == (None, 0)


def test_counts_by_batch_hand_computed_per_batch(routed_batch):
    other = factories.batch("kept", items=[factories.pairwise_item(i, judgments=KEPT) for i in range(3)],
                            audit_rate=0.0, audit_min_per_domain=0).batch
    batch_route(batch=other)
    unrouted = factories.batch("unrouted", items=[factories.pairwise_item(0)]).batch
    counts = counts_by_batch([routed_batch.pk, other.pk, unrouted.pk])
    assert counts[routed_batch.pk] == {"examples": 5, "routed": 5, "judge_kept": 0, "routed_to_human": 5,
                                       "audited": 0, "judge_only": 0, "human_tasks": 17, "human_done": 12,
                                       "unstaffed": 5}
    assert counts[other.pk] == {"examples": 3, "routed": 3, "judge_kept": 3, "routed_to_human": 0, "audited": 0,
                                "judge_only": 3, "human_tasks": 0, "human_done": 0, "unstaffed": 0}
    assert counts[unrouted.pk] == {"examples": 1, "routed": 0, "judge_kept": 0, "routed_to_human": 0,
                                   "audited": 0, "judge_only": 0, "human_tasks": 0, "human_done": 0, "unstaffed": 0}


def test_batches_reports_equal_each_batch_report_with_its_gate(routed_batch):
    other = factories.batch("kept", items=[factories.pairwise_item(i, judgments=KEPT) for i in range(3)],
                            audit_rate=0.0, audit_min_per_domain=0).batch
    batch_route(batch=other)
    reports = batches_reports([other, routed_batch])
    for report, batch in zip(reports, [other, routed_batch], strict=True):
        gate = release_gate(batch_report(batch), 1 - batch.alpha)
        assert report == {**batch_report(batch), "gate": gate, "id": batch.pk}


def test_batches_reports_cached_page_is_two_queries_whatever_the_batch_count(db, django_assert_num_queries):
    # One for the cached figures, one for the open alarms that may hold a gate.
    batches = [factories.batch(f"q{i}", items=[factories.pairwise_item(0)]).batch for i in range(12)]
    batches_reports(batches)
    with django_assert_num_queries(2):
        batches_reports(batches[:2])
    with django_assert_num_queries(2):
        batches_reports(batches)


def test_batch_stats_dropped_in_the_transaction_that_changes_a_label(routed_batch):
    other = factories.batch("other", items=[factories.pairwise_item(0, judgments=KEPT)]).batch
    batches_reports([routed_batch, other])
    assert set(BatchStats.objects.values_list("batch_id", flat=True)) == {routed_batch.pk, other.pk}
    tied = Example.objects.get(batch=routed_batch, external_id="item-1")
    _label(tied, 1)
    assert list(BatchStats.objects.values_list("batch_id", flat=True)) == [other.pk]
    # item-1 now 2 x 1 against 1 x 2: reference 1, the judge's verdict: 2 of 4 overturned
    assert (batch_report(routed_batch)["override_rate"], batch_report(routed_batch)["override_rate_n"]) == (0.5, 4)
    HumanLabel.objects.filter(example=tied, choice=1).update(choice=2)
    assert not BatchStats.objects.filter(batch=routed_batch).exists()
    example_reference_refresh(example_ids=[tied.pk])  # as review_label_correct does after its change
    assert batch_report(routed_batch)["override_rate"] == 3 / 4


def test_batch_stats_not_cached_while_another_transaction_writes_the_batch(transactional_db):
    batch = factories.batch("locked", items=[factories.pairwise_item(0, judgments=KEPT)]).batch
    batch_route(batch=batch)
    with psycopg.connect(**_psycopg_params(), autocommit=False) as other:
        other.execute("UPDATE routing_routingdecision SET reason = 'pending edit' WHERE example_id IN "
                      "(SELECT id FROM routing_example WHERE batch_id = %s)", [batch.pk])
        assert batch_report(batch)["judge_kept"] == 1
        assert not BatchStats.objects.filter(batch=batch).exists()
        other.rollback()
    assert batch_report(batch)["judge_kept"] == 1
    assert BatchStats.objects.filter(batch=batch).exists()


def _psycopg_params():
    s = connection.settings_dict
    return {"host": s["HOST"], "port": s["PORT"] or 5432, "user": s["USER"], "dbname": s["NAME"]}


def test_batch_domain_rows_hand_computed_and_renamed_domain_shown_by_new_path(db):
    items = [factories.pairwise_item(i, judgments=KEPT if i < 3 else UNSURE, domain="test/b" if i % 2 else "test/a")
             for i in range(5)]
    batch = factories.batch("doms", items=items, audit_rate=0.0, audit_min_per_domain=0).batch
    batch_route(batch=batch)
    # test/a: items 0, 2 (kept), 4 (routed); test/b: items 1 (kept), 3 (routed)
    assert batch_domain_rows(batch) == [
        {"domain": "test/a", "n": 3, "judge_kept": 2, "human": 1, "audited": 0},
        {"domain": "test/b", "n": 2, "judge_kept": 1, "human": 1, "audited": 0}]
    assert BatchStats.objects.filter(batch=batch).exists()
    Domain.objects.filter(path="test/a").update(path="test/z")
    assert [r["domain"] for r in batch_domain_rows(batch)] == ["test/b", "test/z"]


def test_batch_stats_of_another_format_are_recomputed(routed_batch):
    batch_report(routed_batch)
    BatchStats.objects.filter(batch=routed_batch).update(figures='{"counts": {}}')
    assert batch_report(routed_batch)["override_rate_n"] == 3
    assert f'"format": {FORMAT}' in BatchStats.objects.get(batch=routed_batch).figures
