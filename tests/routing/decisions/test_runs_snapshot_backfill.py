"""Data migration routing 0016: the current decisions of batches routed before runs stored them
become a run's snapshot (the latest run's, or a run recorded for them), so a later re-route can
be reverted to them."""

from __future__ import annotations

import datetime
import importlib
import re

import pytest
from django.apps import apps as live_apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from hybridqc.flows.batches import batch_reroute, batch_route
from routing.batches.models import Batch
from routing.decisions.models import RoutingDecision, RoutingRun
from routing.decisions.snapshots import SNAPSHOT_FIELDS
from tests import factories
from tests.support.confirm import post_confirmed

BEFORE, AFTER = ("routing", "0015_ingest2_redundant_indexes"), ("routing", "0016_runs_snapshot_backfill")
BACKFILL = importlib.import_module("routing.migrations.0016_runs_snapshot_backfill")
T1 = datetime.datetime(2026, 5, 1, 9, 0, tzinfo=datetime.UTC)
T2 = datetime.datetime(2026, 5, 1, 9, 30, tzinfo=datetime.UTC)
# The decisions of the batch routed before runs were recorded: route, audit, reason, confidence,
# verdict, rating, router version, score, threshold, audit probability.
ROWS = [("judge", True, "kept", 0.9, 0, None, "router-v2", 0.91, 0.85, 0.5),
        ("judge", False, "kept", 0.95, 1, None, "router-v2", 0.96, 0.85, None),
        ("human", False, "tie", 0.5, None, None, "threshold-v1", None, None, None)]
SETTINGS = {"alpha": 0.2, "delta": 0.1, "audit_rate": 0.05, "audit_min_per_domain": 30,
            "confidence_threshold": 0.8, "seed": 0}


@pytest.fixture
def at_0015(transactional_db):
    """The historical models at 0015, the schema migrated back to it; forward to the leaves after."""
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    yield executor.loader.project_state([BEFORE]).apps
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def _examples(apps, batch, n):
    domain, _ = apps.get_model("routing", "Domain").objects.get_or_create(path="test/general")
    return [apps.get_model("routing", "Example").objects.create(
        batch=batch, external_id=f"e{i}", line_number=i, domain=domain, task="pairwise", prompt="?",
        responses=["a", "b"]) for i in range(n)]


def _decide(apps, example, row, run=None):
    return apps.get_model("routing", "RoutingDecision").objects.create(
        example=example, run=run, **dict(zip(SNAPSHOT_FIELDS, row, strict=True)))


def _snapshot(examples, rows):
    return [{"example_id": e.pk, **dict(zip(SNAPSHOT_FIELDS, r, strict=True))} for e, r in zip(examples, rows,
                                                                                                strict=True)]


def test_backfill_records_a_run_for_decisions_without_one_and_fills_the_latest_empty_snapshot(at_0015):
    apps = at_0015
    Batch0, Run0 = apps.get_model("routing", "Batch"), apps.get_model("routing", "RoutingRun")
    apps.get_model("routing", "RouterModel").objects.create(version=2, blob=b"")
    unrun = Batch0.objects.create(name="unrun", routing_mode="certified", alpha=0.2)
    examples = _examples(apps, unrun, 3)
    decisions = [_decide(apps, e, r) for e, r in zip(examples, ROWS, strict=True)]
    for decision, at in zip(decisions, (T1, T2, T1), strict=True):
        apps.get_model("routing", "RoutingDecision").objects.filter(pk=decision.pk).update(created_at=at)
    old = Batch0.objects.create(name="old-run")
    [old_example] = _examples(apps, old, 1)
    old_run = Run0.objects.create(batch=old, mode="threshold", router_version="threshold-v1", n_routed=1,
                                  settings={"seed": 3})
    _decide(apps, old_example, ROWS[2], run=old_run)
    kept = Batch0.objects.create(name="kept")
    [kept_example] = _examples(apps, kept, 1)
    earlier = Run0.objects.create(batch=kept, mode="threshold", router_version="threshold-v1")
    stored = _snapshot([kept_example], [ROWS[0]])
    later = Run0.objects.create(batch=kept, mode="threshold", router_version="threshold-v1", snapshot=stored)
    _decide(apps, kept_example, ROWS[1], run=later)
    unrouted = Batch0.objects.create(name="unrouted")
    _examples(apps, unrouted, 2)

    MigrationExecutor(connection).migrate([AFTER])
    # The models as of the backfill: later migrations add columns the live models read.
    after = MigrationExecutor(connection).loader.project_state([AFTER]).apps
    runs, decisions_at = after.get_model("routing", "RoutingRun"), after.get_model("routing", "RoutingDecision")

    [run] = runs.objects.filter(batch_id=unrun.pk)
    assert (run.mode, run.router_version, run.router_model.version, run.settings) == ("certified", "router-v2", 2,
                                                                                     SETTINGS)
    assert (run.n_routed, run.n_judge_kept, run.n_audited, run.created_at) == (3, 2, 1, T2)
    assert run.snapshot == _snapshot(examples, ROWS)
    assert list(decisions_at.objects.filter(example__batch_id=unrun.pk).values_list("run_id", flat=True)) == [
        run.pk] * 3
    refilled = runs.objects.get(pk=old_run.pk)
    assert refilled.snapshot == _snapshot([old_example], [ROWS[2]])
    assert (refilled.n_routed, refilled.settings, refilled.router_version) == (1, {"seed": 3}, "threshold-v1")
    assert (runs.objects.get(pk=later.pk).snapshot, runs.objects.get(pk=earlier.pk).snapshot) == (stored,
                                                                                                              [])
    assert runs.objects.filter(batch_id__in=[unrouted.pk]).count() == 0
    assert runs.objects.count() == 4


def _decisions(batch: Batch) -> list[tuple]:
    return list(RoutingDecision.objects.filter(example__batch=batch).order_by("example_id")
                .values_list("example_id", *SNAPSHOT_FIELDS))


def _panel(client, batch: Batch) -> tuple[list[str], list[str]]:
    """The router panel's runs (revertable or not) and its count of decisions with no run."""
    body = client.get(reverse("dashboard:router_panel", args=[batch.pk]), HTTP_HX_REQUEST="true").content.decode()
    return re.findall(r'data-revertable="([^"]*)"', body), re.findall(r'data-unrecorded="([^"]*)"', body)


@pytest.mark.parametrize("before", ["no run", "empty snapshot"])
def test_backfilled_batch_rerouted_then_reverted_gets_its_decisions_back_exactly(db, client, lead_user, before):
    tied = [{"judge": "judge-x", "order": "ab", "choice": 1}, {"judge": "judge-x", "order": "ba", "choice": 2}]
    items = [factories.pairwise_item(i) for i in range(4)] + [factories.pairwise_item(4, judgments=tied)]
    batch = factories.batch("pre-runs", items=items, audit_rate=0.0).batch
    batch_route(batch=batch)
    if before == "no run":
        RoutingDecision.objects.filter(example__batch=batch).update(run=None)
        RoutingRun.objects.filter(batch=batch).delete()
    else:
        RoutingRun.objects.filter(batch=batch).update(snapshot=[])
    original = _decisions(batch)
    assert [d[1] for d in original] == ["judge"] * 4 + ["human"]
    client.force_login(lead_user)
    assert _panel(client, batch) == (([], ["5"]) if before == "no run" else (["false"], []))

    BACKFILL.runs_snapshot_backfill(live_apps, None)

    [backfilled] = RoutingRun.objects.filter(batch=batch)
    assert _panel(client, batch) == (["true"], [])
    Batch.objects.filter(pk=batch.pk).update(audit_rate=1.0)
    batch.refresh_from_db()
    assert batch_reroute(batch=batch) == 5
    assert [d[2] for d in _decisions(batch)] == [True] * 4 + [False]  # every judge-kept item audited now
    reverted = post_confirmed(client, reverse("dashboard:router_revert", args=[batch.pk]), HTTP_HX_REQUEST="true")
    assert reverted.status_code == 200
    assert _decisions(batch) == original
    assert RoutingRun.objects.filter(batch=batch).first().reverted_from_id == backfilled.pk
    assert Batch.objects.get(pk=batch.pk).audit_rate == 0.0  # the backfilled run's settings
