"""Reviewers submitting labels of one example at once on PostgreSQL: the stored reviewed reference
counts every label (the example row is locked before the labels are read), and nobody deadlocks."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from reviewers.models import HumanLabel, ReviewTask
from reviewers.references import label_reference
from reviewers.services import review_label_submit
from routing.batches.models import Example
from tests.factories import make_examples, profile
from tests.support.threads import threads_run

# Per example: five say 1, three say 2, so only a reference that counts every label is 1.
CHOICES = [1, 2, 1, 2, 1, 2, 1, 1]


def _submit(task_choice: tuple[ReviewTask, int]) -> None:
    task, choice = task_choice
    review_label_submit(task=task, reviewer=task.assignee, choice=choice)


def test_concurrent_submits_on_one_example_store_the_reference_of_all_labels(transactional_db, settings):
    settings.REVIEW_SECOND_SHARE = 0.0
    reviewers = [profile(f"cr{i}") for i in range(len(CHOICES))]
    now = timezone.now()
    for example in make_examples(6, name="together"):
        tasks = [ReviewTask.objects.create(example=example, kind="gold", status="leased", assignee=r, claimed_at=now,
                                           lease_expires_at=now + timedelta(minutes=10)) for r in reviewers]
        assert threads_run(_submit, list(zip(tasks, CHOICES, strict=True))) == []
        labels = list(HumanLabel.objects.filter(example=example, source="review").select_related("task")
                      .order_by("created_at", "id"))
        assert sorted(x.choice for x in labels) == sorted(CHOICES)
        assert label_reference(labels, example.task) == 1
        assert Example.objects.get(pk=example.pk).reviewed_reference == 1.0
