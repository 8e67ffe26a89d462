"""A submit's label INSERT and task UPDATE run on compiled statements: they store exactly what
``HumanLabel.objects.create`` and ``task.save(update_fields=...)`` store, and no model signal
they skip has a receiver."""

from __future__ import annotations

import pytest
from django.db.models.signals import post_save, pre_save
from django.forms.models import model_to_dict
from django.utils import timezone

from reviewers.models import HumanLabel, ReviewTask
from reviewers.services.label_write import _task_done_compiled, label_insert, task_done_write
from tests.factories import make_tasks, profile

pytestmark = pytest.mark.django_db


def _fields(label: HumanLabel) -> dict[str, object]:
    return {k: v for k, v in model_to_dict(label).items() if k not in ("id", "created_at")}


def test_label_insert_stores_what_create_stores() -> None:
    p = profile("r1")
    a, b = make_tasks(2)
    values = {
        "reviewer": p,
        "source": "review",
        "choice": 2,
        "rationale": "why",
        "flags": ["bias"],
        "criteria": {"clarity": 0.5},
        "seconds_spent": 3.25,
    }
    before = timezone.now()

    written = label_insert(HumanLabel(example=a.example, task=a, **values))
    created = HumanLabel.objects.create(example=b.example, task=b, **values)

    stored = HumanLabel.objects.get(pk=written.pk)
    assert written._state.adding is False
    assert _fields(stored) == {**_fields(created), "example": a.example_id, "task": a.pk}
    assert stored.created_at == written.created_at
    assert stored.created_at >= before


def test_task_done_write_sets_done_completed_and_clears_the_lease() -> None:
    (task,) = make_tasks(1)
    ReviewTask.objects.filter(pk=task.pk).update(status="leased", lease_expires_at=timezone.now())
    now = timezone.now()

    task_done_write(task, now)

    stored = ReviewTask.objects.get(pk=task.pk)
    assert (stored.status, stored.completed_at, stored.lease_expires_at) == ("done", now, None)
    assert (task.status, task.completed_at, task.lease_expires_at) == ("done", now, None)


def test_task_done_update_is_the_compiled_update_of_the_three_columns() -> None:
    compiled = _task_done_compiled("postgresql")

    assert compiled.sql == (
        'UPDATE "reviewers_reviewtask" SET "status" = %s, "completed_at" = %s, "lease_expires_at" = %s '
        'WHERE "reviewers_reviewtask"."id" = %s'
    )
    assert compiled.bind(task=7, now=timezone.datetime(2026, 1, 2, tzinfo=timezone.UTC)) == [
        "done",
        timezone.datetime(2026, 1, 2, tzinfo=timezone.UTC),
        None,
        7,
    ]


def test_no_save_signal_receiver_is_skipped() -> None:
    for signal in (pre_save, post_save):
        assert not signal.has_listeners(HumanLabel)
        assert not signal.has_listeners(ReviewTask)
