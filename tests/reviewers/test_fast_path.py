"""The submit + next item path: its query count is pinned, the "N left" count it carries matches what
the reviewer then gets, and the hand-written claim SQL keeps the rules of the ORM scope (prefix
boundaries, literal wildcards, levels, tier order)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from reviewers.models import Credential, HumanLabel, ReviewerProfile, ReviewTask, TaskSkip
from reviewers.rendering import markdown_safe
from reviewers.services import review_label_submit, review_task_claim, review_task_next
from reviewers.services.pool import QueueState, claim_inputs
from reviewers.services.queue import NextItem
from tests import factories
from tests.factories import make_examples, make_tasks, profile

pytestmark = pytest.mark.django_db

# session, user, reviewer profile; savepoint (the test's transaction; BEGIN, unlogged, when served),
# find and lock the task (and its example) by its item id, credentials (still valid?), insert label, mark
# done, read the example's review labels and store its reviewed reference (one UPDATE); is a
# webhook endpoint active (the gate's state is tracked only then); release; credentials with labels
# count and held lease (one statement); claim the next item and load it with its example, and count
# "N left in your queue" (one statement).
SUBMIT_NEXT_QUERIES = 14


def test_submit_next_query_count_is_pinned(django_assert_num_queries):
    p = profile("r1")
    make_tasks(3)
    c = Client()
    assert c.login(username="r1", password=factories.PASSWORD)
    task = review_task_claim(reviewer=p)
    with django_assert_num_queries(SUBMIT_NEXT_QUERIES):
        resp = c.post(f"/review/task/{task.public_id}/submit/", {"task": task.public_id, "choice": "1"},
                      HTTP_HX_REQUEST="true")
    body = resp.content.decode()
    assert resp.status_code == 200
    assert "Saved." in body
    following = review_task_claim(reviewer=p)  # the lease the response handed out, renewed
    assert following.pk != task.pk
    assert f'data-task-id="{following.public_id}"' in body
    assert f"<p>{following.example.prompt}</p>" in body
    assert 'data-left="1"' in body  # 3 tasks: one labeled, one held, one left
    assert HumanLabel.objects.get(task=task).choice == 1


def _submit(task: ReviewTask, reviewer: ReviewerProfile) -> None:
    review_label_submit(task=task, reviewer=reviewer, choice=1)


def test_next_item_left_counts_exactly_the_items_the_reviewer_then_gets():
    a, b = profile("a", capacity_per_day=100), profile("b")
    e = make_examples(11)
    now = timezone.now()
    past, later = now - timedelta(minutes=1), now + timedelta(minutes=10)
    t = ReviewTask.objects.bulk_create(
        [
            ReviewTask(example=e[0], kind="routed", status="open", assignee=a),  # a's own: counted
            ReviewTask(example=e[1], kind="routed", status="open"),  # free: counted
            ReviewTask(example=e[2], kind="routed", status="open", assignee=b),  # designated to b: counted
            ReviewTask(example=e[3], kind="routed", status="unstaffed"),  # a covers it: counted
            ReviewTask(example=e[4], kind="routed", status="leased", assignee=b, claimed_at=past,
                       lease_expires_at=past),  # lease ran out: counted
            ReviewTask(example=e[5], kind="routed", status="leased", assignee=b, claimed_at=now,
                       lease_expires_at=later),  # b holds it
            ReviewTask(example=e[6], kind="routed", status="open", min_level="expert"),  # above a's level
            ReviewTask(example=e[7], kind="gold", status="open"),  # gold checks are made per reviewer
            ReviewTask(example=e[8], kind="routed", status="open"),  # a passed on it
            ReviewTask(example=e[9], kind="routed", status="done"),
            ReviewTask(example=e[10], kind="second", status="open"),  # a labeled the example
        ]
    )
    TaskSkip.objects.create(task=t[8], reviewer=a, reason="not mine")
    HumanLabel.objects.create(example=e[10], reviewer=a, source=HumanLabel.Source.IMPORT, choice=1)
    make_tasks(1, name="b2", domain="elsewhere/x")  # outside a's credential
    got = []
    for _ in range(6):  # bounded: five tasks are a's to take
        item = review_task_next(reviewer=a)
        got.append((item.task.pk if item.task else None, item.left))
        if item.task is None:
            break
        _submit(item.task, a)
    # Own first, then free ones by age (open, unstaffed, expired lease), then b's.
    assert got == [(t[0].pk, 4), (t[1].pk, 3), (t[3].pk, 2), (t[4].pk, 1), (t[2].pk, 0), (None, 0)]


def test_next_item_left_is_capped_by_capacity_and_zero_without_credentials():
    a = profile("a", capacity_per_day=3)
    paused = profile("paused", status="paused")
    make_tasks(5)
    first = review_task_next(reviewer=a)
    assert first.left == 2  # 4 takeable, capacity 3 - 0 done - 1 held
    _submit(first.task, a)
    assert review_task_next(reviewer=a).left == 1  # capacity 3 - 1 done - 1 held
    assert review_task_next(reviewer=paused) == NextItem(task=None, left=0)


@pytest.mark.parametrize("prefix", ["te_t", "te%", "test/gen", "test/general/x"])
def test_claim_scope_needs_whole_path_segments_and_literal_wildcards(prefix):
    outsider = profile("outsider", prefixes=(prefix,))
    make_tasks(2)  # domain test/general
    assert review_task_claim(reviewer=outsider) is None


def test_claim_scope_strips_slashes_and_covers_subdomains():
    p = profile("r1", prefixes=("/test/",))
    task = make_tasks(1)[0]
    assert review_task_claim(reviewer=p).pk == task.pk


def test_claim_takes_own_then_free_then_others_and_respects_level():
    a, b = profile("a"), profile("b")
    e = make_examples(4)
    tasks = ReviewTask.objects.bulk_create(
        [
            ReviewTask(example=e[0], kind="routed", status="open", min_level="expert"),  # above a's level
            ReviewTask(example=e[1], kind="routed", status="open", assignee=b),
            ReviewTask(example=e[2], kind="routed", status="open"),
            ReviewTask(example=e[3], kind="routed", status="open", assignee=a),
        ]
    )
    order = []
    for _ in range(4):  # bounded: four tasks exist
        task = review_task_claim(reviewer=a)
        if task is None:
            break
        assert task.example.domain.path == "test/general"
        order.append(task.pk)
        review_label_submit(task=task, reviewer=a, choice=1)
    assert order == [tasks[3].pk, tasks[2].pk, tasks[1].pk]


def test_markdown_cache_serves_only_sanitized_html():
    payload = "**hi** <script>alert(1)</script> [x](javascript:alert(1))"
    first, again = markdown_safe(payload), markdown_safe(payload)
    assert first == again
    assert "<strong>hi</strong>" in again
    assert "<script" not in again
    assert 'href="javascript' not in again  # shown as text, never as a link
    assert markdown_safe(None) == ""  # type: ignore[arg-type]


def test_claim_inputs_reads_valid_credentials_and_queue_state_in_one_statement(django_assert_num_queries):
    p = profile("a", prefixes=("test/b", "test/a"))
    Credential.objects.create(reviewer=p, domain_prefix="test/expired", expires_at=timezone.now() - timedelta(days=1))
    Credential.objects.create(reviewer=p, domain_prefix="test/paused", paused=True)
    make_tasks(3, domain="test/a/x")
    first = review_task_claim(reviewer=p)
    _submit(first, p)
    held = review_task_claim(reviewer=p)
    with django_assert_num_queries(1):
        credentials, state = claim_inputs(p, timezone.now())
    assert [c.domain_prefix for c in credentials] == ["test/a", "test/b"]
    assert state == QueueState(today=1, total=1, gold=0, held_id=held.pk)


def test_claim_inputs_without_a_valid_credential_still_reads_the_state():
    p = profile("a", status="paused")
    assert claim_inputs(p, timezone.now()) == ([], QueueState(today=0, total=0, gold=0, held_id=None))
