"""32 reviewers claiming and submitting at once on PostgreSQL: no task goes to two reviewers and
every accepted label is stored."""

from __future__ import annotations

import threading
from collections import Counter

from django.db import connection

from reviewers.models import HumanLabel, ReviewTask
from reviewers.services import review_label_submit, review_task_claim
from tests.factories import make_examples, profile

THREADS = 32
TASKS = 320


def _worker(
    reviewer, claims: list[tuple[int, int]], accepted: list[int], errors: list[BaseException], start: threading.Barrier
) -> None:
    try:
        start.wait()
        for _ in range(TASKS):  # bounded: a reviewer cannot get more than every task
            task = review_task_claim(reviewer=reviewer)
            if task is None:
                break
            claims.append((task.pk, reviewer.pk))
            label = review_label_submit(task=task, reviewer=reviewer, choice=1 + task.pk % 2)
            accepted.append(label.pk)
    except BaseException as exc:  # reported by the test thread
        errors.append(exc)
    finally:
        connection.close()


def test_concurrent_claims_never_double_assign(transactional_db, settings):
    settings.REVIEW_SECOND_SHARE = 0.0
    reviewers = [profile(f"c{i:02d}") for i in range(THREADS)]
    examples = make_examples(TASKS)
    # All tasks in the shared pool (no designated reviewer): all 32 threads race for the same rows.
    ReviewTask.objects.bulk_create([ReviewTask(example=e, kind="routed", status="open") for e in examples])
    claims: list[tuple[int, int]] = []
    accepted: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)
    threads = [threading.Thread(target=_worker, args=(r, claims, accepted, errors, start)) for r in reviewers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    per_task = Counter(task_id for task_id, _ in claims)
    assert len(per_task) == TASKS
    assert max(per_task.values()) == 1  # no task handed out twice
    assert len(accepted) == TASKS
    labels = HumanLabel.objects.filter(source="review")
    assert labels.count() == TASKS  # no accepted label lost
    assert set(labels.values_list("pk", flat=True)) == set(accepted)
    owner = dict(claims)
    assert all(owner[task_id] == rev for task_id, rev in labels.values_list("task_id", "reviewer_id"))
    assert ReviewTask.objects.exclude(status="done").count() == 0
    assert len({rev for _, rev in claims}) > 1


ROUNDS = 30


def _claim_once(reviewer, results: list, errors: list[BaseException], start: threading.Barrier) -> None:
    try:
        start.wait()
        task = review_task_claim(reviewer=reviewer)
        results.append(task.pk if task is not None else None)
    except BaseException as exc:  # reported by the test thread
        errors.append(exc)
    finally:
        connection.close()


def test_same_reviewer_claiming_twice_at_once_holds_one_lease(transactional_db):
    """Two tabs of one reviewer claim at the same moment: both get the same single lease."""
    reviewer = profile("tabs")
    examples = make_examples(2 * ROUNDS)
    ReviewTask.objects.bulk_create([ReviewTask(example=e, kind="routed", status="open") for e in examples])
    doubled = []
    for round_ in range(ROUNDS):
        results: list[int | None] = []
        errors: list[BaseException] = []
        start = threading.Barrier(2)
        threads = [threading.Thread(target=_claim_once, args=(reviewer, results, errors, start)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        leased = list(ReviewTask.objects.filter(assignee=reviewer, status="leased").values_list("pk", flat=True))
        if len(leased) != 1 or results != [leased[0], leased[0]]:
            doubled.append((round_, leased, results))
        # The round's lease is labeled, so the next round claims afresh.
        ReviewTask.objects.filter(assignee=reviewer, status="leased").update(status="done")
    assert doubled == []
