"""The data migration fills the stored reviewed reference of existing rows by the one rule, on the
historical models it runs with."""

import importlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from reviewers.models import HumanLabel, ReviewTask
from routing.batches.models import Example
from tests import factories

pytestmark = pytest.mark.django_db

MIGRATION = ("reviewers", "0005_reviewed_reference_backfill")


def _label(example: Example, choice: int | None, kind: str | None = "routed", source: str = "review") -> None:
    task = ReviewTask.objects.create(example=example, kind=kind, status="done") if kind else None
    HumanLabel.objects.create(example=example, task=task, source=source, choice=choice, annotator=f"a{choice}{kind}")


def test_backfill_fills_existing_rows_by_the_rule_on_historical_models():
    majority, adjudicated, tied, imported, untouched = factories.make_examples(5, name="backfill")
    for choice in (2, 2, 1):
        _label(majority, choice)
    _label(adjudicated, 1)
    _label(adjudicated, 1, kind=None)  # a review label whose task was deleted: a plain vote
    _label(adjudicated, 2, kind="adjudication")
    _label(tied, 1)
    _label(tied, 2, kind="second")
    _label(imported, 1, kind=None, source="import")
    Example.objects.update(reviewed_reference=None)  # as the rows stand before the migration
    Example.objects.filter(pk=untouched.pk).update(reviewed_reference=7.0)  # no review label: left as it is
    historical = MigrationExecutor(connection).loader.project_state(MIGRATION).apps
    module = importlib.import_module("reviewers.migrations.0005_reviewed_reference_backfill")
    module.references_fill(historical, None)
    stored = dict(Example.objects.filter(batch=majority.batch).values_list("external_id", "reviewed_reference"))
    # majority: 2 of 3 say 2; adjudicated: the adjudicator's 2 over two 1s; tied: none; imported only: none.
    assert stored == {majority.external_id: 2.0, adjudicated.external_id: 2.0, tied.external_id: None,
                      imported.external_id: None, untouched.external_id: 7.0}
