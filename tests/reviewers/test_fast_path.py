"""The submit + next item path (issue #5): its query count is pinned, and the hand-written claim
SQL keeps the rules of the ORM scope (prefix boundaries, literal wildcards, levels, tier order)."""

from __future__ import annotations

import pytest
from django.test import Client

from reviewers.models import HumanLabel, ReviewTask
from reviewers.rendering import markdown_safe
from reviewers.services import review_label_submit, review_task_claim
from tests import factories
from tests.factories import make_examples, make_tasks, profile

pytestmark = pytest.mark.django_db

# session, user, reviewer profile; the task behind the opaque item id; savepoint, lock task, credentials
# (still valid?), insert label, mark done, release; is a webhook endpoint active (the gate's state is
# tracked only then); credentials, labels count + held lease, claim, load the next item with its example;
# "N left in your queue": credentials, takeable tasks, labels today.
SUBMIT_NEXT_QUERIES = 18


def test_submit_next_query_count_is_pinned(django_assert_max_num_queries):
    p = profile("r1")
    make_tasks(3)
    c = Client()
    assert c.login(username="r1", password=factories.PASSWORD)
    task = review_task_claim(reviewer=p)
    with django_assert_max_num_queries(SUBMIT_NEXT_QUERIES):
        resp = c.post(f"/review/task/{task.public_id}/submit/", {"task": task.public_id, "choice": "1"},
                      HTTP_HX_REQUEST="true")
    body = resp.content.decode()
    assert resp.status_code == 200
    assert "Saved." in body
    following = review_task_claim(reviewer=p)  # the lease the response handed out, renewed
    assert following.pk != task.pk
    assert f'data-task-id="{following.public_id}"' in body
    assert f"<p>{following.example.prompt}</p>" in body
    assert HumanLabel.objects.get(task=task).choice == 1


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
