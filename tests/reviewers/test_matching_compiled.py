"""Assignment's reads on statements compiled once per process and number of ids: the capacity rule
(``remaining_capacity``) and the earlier reviewers of examples (``earlier_reviewers``) run exactly
the statements their querysets compile to, and answer what those querysets answer."""

from __future__ import annotations

import pytest
from django.utils import timezone

from reviewers.capacity import _capacities, _capacity_compiled, _labels_today, _tasks_waiting, remaining_capacity
from reviewers.models import HumanLabel, ReviewTask, TaskSkip
from reviewers.services.matching import _earlier_compiled, earlier_reviewers
from tests.factories import make_tasks, profile

pytestmark = pytest.mark.django_db


def test_capacity_statements_are_the_querysets_compiled_for_two_reviewers() -> None:
    done, waiting, capacity = _capacity_compiled("postgresql", 2)

    assert done.sql == (
        'SELECT "reviewers_humanlabel"."reviewer_id" AS "reviewer_id", COUNT("reviewers_humanlabel"."id") AS "n" '
        'FROM "reviewers_humanlabel" WHERE ("reviewers_humanlabel"."created_at" >= %s AND '
        '"reviewers_humanlabel"."reviewer_id" IN (%s, %s)) GROUP BY 1'
    )
    assert waiting.sql == (
        'SELECT "reviewers_reviewtask"."assignee_id" AS "assignee_id", COUNT("reviewers_reviewtask"."id") AS "n" '
        'FROM "reviewers_reviewtask" WHERE ("reviewers_reviewtask"."assignee_id" IN (%s, %s) AND '
        '"reviewers_reviewtask"."status" IN (%s, %s)) GROUP BY 1'
    )
    assert capacity.sql == (
        'SELECT "reviewers_reviewerprofile"."id" AS "id", "reviewers_reviewerprofile"."capacity_per_day" AS '
        '"capacity_per_day" FROM "reviewers_reviewerprofile" WHERE "reviewers_reviewerprofile"."id" IN (%s, %s)'
    )
    assert waiting.bind(id0=7, id1=9) == [7, 9, "open", "leased"]


def test_earlier_statements_are_the_querysets_compiled_for_one_example() -> None:
    labels, leases, skips = _earlier_compiled("postgresql", 1)

    assert labels.sql == (
        'SELECT "reviewers_humanlabel"."example_id" AS "example_id", "reviewers_humanlabel"."reviewer_id" AS '
        '"reviewer_id" FROM "reviewers_humanlabel" WHERE ("reviewers_humanlabel"."example_id" IN (%s) AND '
        '"reviewers_humanlabel"."reviewer_id" IS NOT NULL) ORDER BY "reviewers_humanlabel"."created_at" ASC, '
        '"reviewers_humanlabel"."id" ASC'
    )
    assert leases.bind(id0=4) == [4, "leased"]
    assert skips.sql.startswith(
        'SELECT "reviewers_reviewtask"."example_id" AS "task__example_id", "reviewers_taskskip"."reviewer_id" AS '
        '"reviewer_id" FROM "reviewers_taskskip" INNER JOIN "reviewers_reviewtask"'
    )


def test_compiled_capacity_answers_what_the_querysets_answer() -> None:
    a, b, c = profile("a", capacity_per_day=10), profile("b", capacity_per_day=3), profile("c", capacity_per_day=1)
    tasks = make_tasks(4)
    ReviewTask.objects.update(assignee=None)  # undo the designations assignment made
    ReviewTask.objects.filter(pk=tasks[0].pk).update(assignee=a, status="open")
    ReviewTask.objects.filter(pk=tasks[1].pk).update(assignee=a, status="leased")
    HumanLabel.objects.create(example=tasks[2].example, reviewer=b, source="review", choice=1)
    HumanLabel.objects.create(example=tasks[3].example, reviewer=c, source="review", choice=1)
    ids = [a.pk, b.pk, c.pk]
    day = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    assert dict(_labels_today(ids, day)) == {b.pk: 1, c.pk: 1}
    assert dict(_tasks_waiting(ids)) == {a.pk: 2}
    assert dict(_capacities(ids)) == {a.pk: 10, b.pk: 3, c.pk: 1}

    assert remaining_capacity(ids) == {a.pk: 8, b.pk: 2, c.pk: 0}
    assert remaining_capacity([]) == {}


def test_compiled_earlier_reviewers_finds_labels_leases_and_passes() -> None:
    a, b, c, d = profile("a"), profile("b"), profile("c"), profile("d")
    first, second = make_tasks(2)
    HumanLabel.objects.create(example=first.example, reviewer=a, source="review", choice=1)
    ReviewTask.objects.filter(pk=first.pk).update(assignee=b, status="leased")
    TaskSkip.objects.create(task=second, reviewer=c, reason="not mine")
    ReviewTask.objects.filter(pk=second.pk).update(assignee=d, status="open")  # designated, not held: not counted

    found = earlier_reviewers([first.example_id, second.example_id])

    assert dict(found) == {first.example_id: {a.pk, b.pk}, second.example_id: {c.pk}}
    assert dict(earlier_reviewers([])) == {}
