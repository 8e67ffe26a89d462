"""Undo of the last label, correction of one's own labels, "N left in your queue" and the
history page: the services and the views that use them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reviewers.models import HumanLabel, ReviewTask
from reviewers.selectors import agreement_by_domain, queue_left
from reviewers.services import (
    ReviewError,
    review_label_correct,
    review_label_submit,
    review_label_undo,
    review_task_claim,
)
from reviewers.services.corrections import ADJUDICATED
from tests import factories
from tests.factories import make_tasks, profile
from tests.reviewers.test_queue import _client

pytestmark = pytest.mark.django_db


def _label_first(reviewer, choice: int = 1) -> tuple[ReviewTask, HumanLabel]:
    task = review_task_claim(reviewer=reviewer)
    return task, review_label_submit(task=task, reviewer=reviewer, choice=choice)


def test_undo_withdraws_label_and_gives_item_back_under_same_claim():
    r = profile("r1")
    make_tasks(3)
    task, _ = _label_first(r)
    following = review_task_claim(reviewer=r)
    restored = review_label_undo(reviewer=r)
    assert restored.pk == task.pk
    assert HumanLabel.objects.filter(task=task).count() == 0
    task.refresh_from_db()
    assert (task.status, task.assignee_id, task.completed_at) == ("leased", r.pk, None)
    assert task.claimed_at == ReviewTask.objects.get(pk=task.pk).claimed_at
    following.refresh_from_db()
    assert (following.status, following.assignee_id) == ("open", None)  # one lease at a time
    assert review_task_claim(reviewer=r).pk == task.pk  # the queue shows it again


def test_undo_refused_after_the_window(settings):
    r = profile("r1")
    make_tasks(2)
    _, label = _label_first(r)
    HumanLabel.objects.filter(pk=label.pk).update(created_at=timezone.now() - timedelta(seconds=121))
    with pytest.raises(ReviewError) as exc:
        review_label_undo(reviewer=r)
    assert exc.value.status == 409
    assert "120 seconds" in exc.value.message
    assert HumanLabel.objects.filter(pk=label.pk).exists()


def test_undo_withdraws_untaken_second_review(settings):
    settings.REVIEW_SECOND_SHARE = 1.0
    r = profile("r1")
    profile("r2")
    make_tasks(1)
    task, _ = _label_first(r)
    assert ReviewTask.objects.filter(example=task.example, kind="second").count() == 1
    review_label_undo(reviewer=r)
    assert ReviewTask.objects.filter(example=task.example, kind="second").count() == 0


def test_correct_second_review_into_disagreement_creates_adjudication_and_back(settings):
    settings.REVIEW_SECOND_SHARE = 1.0
    first, second = profile("r1"), profile("r2")
    profile("adj", level="adjudicator")
    make_tasks(1)
    _label_first(first, choice=1)
    _, label = _label_first(second, choice=1)
    adjudications = ReviewTask.objects.filter(kind="adjudication")
    assert adjudications.count() == 0
    review_label_correct(label_id=label.pk, reviewer=second, choice=2)
    assert adjudications.count() == 1
    assert HumanLabel.objects.get(pk=label.pk).choice == 2
    review_label_correct(label_id=label.pk, reviewer=second, choice=1)
    assert adjudications.count() == 0  # agreement again: the untaken adjudication is withdrawn


def test_correct_updates_agreement_figures(settings):
    settings.REVIEW_SECOND_SHARE = 1.0
    first, second = profile("r1"), profile("r2")
    make_tasks(3)
    firsts = [_label_first(first, choice=c)[1] for c in (1, 2, 1)]
    wanted = {firsts[0].example_id: 1, firsts[1].example_id: 2, firsts[2].example_id: 2}
    seconds = {}
    for _ in range(3):
        task = review_task_claim(reviewer=second)
        seconds[task.example_id] = review_label_submit(task=task, reviewer=second, choice=wanted[task.example_id])
    before = agreement_by_domain()[0]
    review_label_correct(label_id=seconds[firsts[2].example_id].pk, reviewer=second, choice=1)
    after = agreement_by_domain()[0]
    # Units (1,1), (2,2), (1,2): Do = 2/6, De = 2*3*3/(6*5) = 0.6, alpha = 1 - (1/3)/0.6 = 4/9.
    # Corrected to (1,1), (2,2), (1,1): no disagreement left, alpha = 1.
    assert (before["items"], after["items"]) == (3, 3)
    assert before["alpha"] == pytest.approx(4 / 9, abs=1e-12)
    assert after["alpha"] == pytest.approx(1.0, abs=1e-12)


def test_correct_refused_once_adjudication_started(settings):
    settings.REVIEW_SECOND_SHARE = 1.0
    first, second = profile("r1"), profile("r2")
    adj = profile("adj", level="adjudicator")
    make_tasks(1)
    _, label = _label_first(first, choice=1)
    _label_first(second, choice=2)
    assert review_task_claim(reviewer=adj).kind == "adjudication"
    with pytest.raises(ReviewError) as exc:
        review_label_correct(label_id=label.pk, reviewer=first, choice=2)
    assert exc.value.status == 409
    assert HumanLabel.objects.get(pk=label.pk).choice == 1


def test_correct_refuses_another_reviewers_label():
    r1, r2 = profile("r1"), profile("r2")
    make_tasks(1)
    _, label = _label_first(r1)
    with pytest.raises(ReviewError) as exc:
        review_label_correct(label_id=label.pk, reviewer=r2, choice=2)
    assert exc.value.status == 404


def test_correct_refused_once_labels_are_the_gold_answer():
    r = profile("r1")
    make_tasks(1)
    task, label = _label_first(r)
    type(task.example).objects.filter(pk=task.example_id).update(is_gold=True, gold_choice=1)
    with pytest.raises(ReviewError) as exc:
        review_label_correct(label_id=label.pk, reviewer=r, choice=2)
    assert "gold answer" in exc.value.message


def test_queue_left_counts_what_the_reviewer_could_be_given():
    r = profile("r1", capacity_per_day=4)
    other = profile("other", prefixes=("elsewhere",))
    make_tasks(6)
    make_tasks(2, name="b2", domain="elsewhere/x")
    assert queue_left(reviewer=other, holding=False) == 2
    assert queue_left(reviewer=r, holding=False) == 4  # 6 tasks in scope, capacity 4
    _label_first(r)
    assert queue_left(reviewer=r, holding=False) == 3  # 5 in scope, capacity 4 - 1 done today
    review_task_claim(reviewer=r)
    assert queue_left(reviewer=r, holding=True) == 2  # 4 in scope; capacity 4 - 1 done - 1 held


def test_queue_page_shows_count_and_history_lists_own_labels_only():
    r1, r2 = profile("r1"), profile("r2")
    make_tasks(3)
    _, mine = _label_first(r1, choice=2)
    _, theirs = _label_first(r2, choice=1)
    c = _client("r1")
    page = c.get("/review/").content.decode()
    assert 'data-left="1"' in page  # 3 tasks: one labeled by r1, one done by r2 -> one open
    body = c.get("/review/history/").content.decode()
    assert f'data-label="{mine.pk}"' in body
    assert f'data-label="{theirs.pk}"' not in body
    assert "response 2" in body
    assert c.get(f"/review/history/{theirs.pk}/correct/").status_code == 404


def test_history_is_paginated_newest_first():
    r = profile("r1")
    examples = factories.make_examples(27)
    for e in examples:
        HumanLabel.objects.create(example=e, reviewer=r, source=HumanLabel.Source.REVIEW, choice=1)
    c = _client("r1")
    first = c.get("/review/history/").content.decode()
    assert 'data-pages="2"' in first and 'data-count="27"' in first
    newest = HumanLabel.objects.order_by("-id").first()
    assert first.index(f'data-label="{newest.pk}"') < first.index(f'data-label="{newest.pk - 1}"')
    second = c.get("/review/history/?page=2").content.decode()
    assert second.count("<tr data-label=") == 2


def test_correct_view_saves_and_refuses_bad_input_in_place():
    r = profile("r1")
    make_tasks(2)
    _, label = _label_first(r)
    c = _client("r1")
    url = f"/review/history/{label.pk}/correct/"
    assert 'value="1" checked' in c.get(url).content.decode()
    bad = c.post(url, {"choice": "9"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 422
    assert 'id="correct-form"' in bad.content.decode() and "<html" not in bad.content.decode()
    ok = c.post(url, {"choice": "t", "rationale": "a tie after all"})
    assert ok.status_code == 303 and ok["Location"] == "/review/history/"
    label.refresh_from_db()
    assert (label.choice, label.rationale) == (0, "a tie after all")


def test_undo_view_shows_the_item_again_without_js_and_with_htmx():
    r = profile("r1")
    make_tasks(3)
    c = _client("r1")
    task = review_task_claim(reviewer=r)
    saved = c.post(f"/review/task/{task.public_id}/submit/", {"task": task.public_id, "choice": "1"},
                   HTTP_HX_REQUEST="true")
    assert 'id="undo-form"' in saved.content.decode()
    undone = c.post("/review/undo/", HTTP_HX_REQUEST="true")
    assert undone.status_code == 200
    assert f'data-task-id="{task.public_id}"' in undone.content.decode()
    assert not HumanLabel.objects.filter(reviewer=r).exists()
    review_label_submit(task=task, reviewer=r, choice=2)
    plain = c.post("/review/undo/")
    assert plain.status_code == 303
    assert not HumanLabel.objects.filter(reviewer=r).exists()
    nothing = c.post("/review/undo/", HTTP_HX_REQUEST="true")
    assert nothing.status_code == 409
    assert "Nothing to undo" in nothing.content.decode()


def test_undo_refused_once_the_credential_is_paused():
    r = profile("r1")
    make_tasks(2)
    _, label = _label_first(r)
    r.credentials.update(paused=True)
    with pytest.raises(ReviewError) as exc:
        review_label_undo(reviewer=r)
    assert exc.value.status == 403
    assert HumanLabel.objects.filter(pk=label.pk).exists()


def _labels_on_tasks(reviewer, n, name):
    """``n`` done tasks labeled by ``reviewer``; every third item's adjudication is taken."""
    for i, task in enumerate(make_tasks(n, name=name)):
        ReviewTask.objects.filter(pk=task.pk).update(status=ReviewTask.Status.DONE, assignee=reviewer)
        HumanLabel.objects.create(example=task.example, task=task, reviewer=reviewer,
                                  source=HumanLabel.Source.REVIEW, choice=1)
        if i % 3 == 0:
            ReviewTask.objects.create(example=task.example, kind=ReviewTask.Kind.ADJUDICATION,
                                      status=ReviewTask.Status.LEASED)


def test_history_page_queries_do_not_grow_with_its_rows():
    """3 rows and 25 rows (a full page of 30 labels) cost the same 7 queries: the rows come in one,
    with their items, domains, batches, tasks and whether an adjudication was taken (asking that
    per row made it 10 and 32)."""
    counts = []
    for n, username in ((3, "few"), (30, "many")):
        r = profile(username)
        _labels_on_tasks(r, n, name=f"b-{username}")
        c = _client(username)
        c.get("/review/history/")
        with CaptureQueriesContext(connection) as queries:
            body = c.get("/review/history/").content.decode()
        counts.append(len(queries))
        shown = min(n, 25)
        assert body.count("<tr data-label=") == shown
        assert body.count(ADJUDICATED) == len([i for i in range(n - shown, n) if i % 3 == 0])
    assert counts == [7, 7]
