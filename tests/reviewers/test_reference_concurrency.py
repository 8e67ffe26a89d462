"""Reviewers submitting labels of one example at once on PostgreSQL: the stored reviewed reference
counts every label (the example row is locked before the labels are read), and nobody deadlocks."""

from __future__ import annotations

import threading
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from reviewers.models import HumanLabel, ReviewTask
from reviewers.references import label_reference
from reviewers.services import review_label_submit
from routing.batches.models import Example
from tests.factories import make_examples, profile

# Per example: five say 1, three say 2, so only a reference that counts every label is 1.
CHOICES = [1, 2, 1, 2, 1, 2, 1, 1]


def _worker(tasks: list[ReviewTask], errors: list[BaseException], start: threading.Barrier) -> None:
    try:
        for task in tasks:
            start.wait()
            review_label_submit(task=task, reviewer=task.assignee, choice=CHOICES[task.assignee_id % len(CHOICES)])
    except BaseException as exc:  # reported by the test thread
        errors.append(exc)
    finally:
        connection.close()


def test_concurrent_submits_on_one_example_store_the_reference_of_all_labels(transactional_db, settings):
    settings.REVIEW_SECOND_SHARE = 0.0
    reviewers = [profile(f"cr{i}") for i in range(len(CHOICES))]
    examples = make_examples(3, name="together")
    now = timezone.now()
    per_reviewer = {r.pk: [ReviewTask.objects.create(
        example=e, kind="gold", status="leased", assignee=r, claimed_at=now,
        lease_expires_at=now + timedelta(minutes=10)) for e in examples] for r in reviewers}
    errors: list[BaseException] = []
    start = threading.Barrier(len(reviewers))
    threads = [threading.Thread(target=_worker, args=(tasks, errors, start)) for tasks in per_reviewer.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    for example in examples:
        labels = list(HumanLabel.objects.filter(example=example, source="review").select_related("task")
                      .order_by("created_at", "id"))
        assert sorted(x.choice for x in labels) == sorted(CHOICES[r.pk % len(CHOICES)] for r in reviewers)
        assert label_reference(labels, example.task) == 1
        assert Example.objects.get(pk=example.pk).reviewed_reference == 1.0
