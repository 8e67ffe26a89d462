"""Matching, leases, submit, follow-ups: the queue services and the views that use them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from hybridqc.flows.batches import batch_route
from reviewers.capacity import remaining_capacity, roster_remaining_capacity
from reviewers.models import Credential, HumanLabel, Notification, ReviewTask, TaskSkip
from reviewers.services import (
    ReviewError,
    review_label_submit,
    review_leases_expire,
    review_task_claim,
    review_task_skip,
    unstaffed_restaff,
)
from reviewers.tasks import review_leases_expire as beat_task
from routing.batches.models import Domain
from tests import factories
from tests.factories import make_tasks, profile

pytestmark = pytest.mark.django_db


def _client(username: str) -> Client:
    c = Client()
    assert c.login(username=username, password=factories.PASSWORD)
    return c


def test_review_tasks_create_prefers_most_specific_credential():
    broad = profile("broad", prefixes=("test",))
    narrow = profile("narrow", prefixes=("test/general",))
    tasks = make_tasks(3)
    assert [t.assignee_id for t in tasks] == [narrow.pk, narrow.pk, narrow.pk]
    assert {t.status for t in tasks} == {"open"}
    assert broad.pk not in {t.assignee_id for t in tasks}


def test_review_tasks_create_balances_by_remaining_capacity():
    a = profile("a", capacity_per_day=2)
    b = profile("b", capacity_per_day=3)
    tasks = make_tasks(6)
    assigned = [t.assignee_id for t in tasks]
    assert assigned.count(a.pk) == 2
    assert assigned.count(b.pk) == 3
    assert assigned.count(None) == 1  # both at capacity: left in the shared pool, still open
    assert tasks[-1].status == "open"


def test_remaining_capacity_never_below_zero_per_reviewer():
    over = profile("over", capacity_per_day=2)
    fresh = profile("fresh", capacity_per_day=4)
    for example in factories.make_examples(3, name="labeled"):
        HumanLabel.objects.create(example=example, reviewer=over, source=HumanLabel.Source.REVIEW, choice=1)
    assert remaining_capacity([over.pk, fresh.pk]) == {over.pk: 0, fresh.pk: 4}
    # The overdrawn reviewer takes nothing from the roster's figure (2 - 3 + 4 would be 3).
    assert roster_remaining_capacity([Domain.objects.get(path="test/general")]) == 4
    assert [t.assignee_id for t in make_tasks(5, name="next")] == [fresh.pk] * 4 + [None]


def test_review_tasks_create_unstaffed_without_matching_credential():
    profile("med", prefixes=("medicine",))
    tasks = make_tasks(2)
    assert [(t.status, t.assignee_id) for t in tasks] == [("unstaffed", None), ("unstaffed", None)]


def test_expired_or_paused_credentials_do_not_match():
    p = profile("old", prefixes=("test",), expires_in_days=-1)
    q = profile("paused", prefixes=("test",))
    Credential.objects.filter(reviewer=q).update(paused=True)
    tasks = make_tasks(1)
    assert tasks[0].status == "unstaffed"
    assert review_task_claim(reviewer=p) is None
    assert review_task_claim(reviewer=q) is None


def test_unstaffed_task_becomes_claimable_when_credential_added():
    p = profile("late", prefixes=("medicine",))
    task = make_tasks(1)[0]
    assert review_task_claim(reviewer=p) is None
    Credential.objects.create(reviewer=p, domain_prefix="test/general", level="practitioner")
    claimed = review_task_claim(reviewer=p)
    assert claimed.pk == task.pk
    assert claimed.status == "leased"


def test_unstaffed_restaff_assigns_after_credential_added():
    p = profile("late", prefixes=("medicine",))
    task = make_tasks(1)[0]
    Credential.objects.create(reviewer=p, domain_prefix="test", level="practitioner")
    assert unstaffed_restaff() == 1
    task.refresh_from_db()
    assert (task.status, task.assignee_id) == ("open", p.pk)


def test_claim_sets_lease_and_returns_same_task_until_submitted():
    p = profile("r1")
    make_tasks(2)
    first = review_task_claim(reviewer=p)
    assert first.lease_expires_at > timezone.now() + timedelta(minutes=14)
    assert review_task_claim(reviewer=p).pk == first.pk
    review_label_submit(task=first, reviewer=p, choice=1)
    second = review_task_claim(reviewer=p)
    assert second.pk != first.pk


def test_expired_lease_goes_to_another_reviewer():
    a, b = profile("a"), profile("b")
    task = make_tasks(1)[0]
    assert review_task_claim(reviewer=a).pk == task.pk
    assert review_task_claim(reviewer=b) is None
    ReviewTask.objects.filter(pk=task.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert review_task_claim(reviewer=b).pk == task.pk
    with pytest.raises(ReviewError) as exc:
        review_label_submit(task=task, reviewer=a, choice=1)
    assert exc.value.status == 409
    label = review_label_submit(task=task, reviewer=b, choice=2)
    assert (label.reviewer_id, label.choice) == (b.pk, 2)


def test_beat_task_returns_expired_leases_to_pool():
    a = profile("a")
    task = make_tasks(1)[0]
    review_task_claim(reviewer=a)
    ReviewTask.objects.filter(pk=task.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert beat_task() == 1
    task.refresh_from_db()
    assert (task.status, task.assignee_id, task.lease_expires_at) == ("open", None, None)
    assert review_leases_expire() == 0


def test_double_submit_stores_one_label():
    p = profile("r1")
    make_tasks(1)
    task = review_task_claim(reviewer=p)
    first = review_label_submit(task=task, reviewer=p, choice=1, rationale="A is right")
    again = review_label_submit(task=task, reviewer=p, choice=2)
    assert again.pk == first.pk
    assert HumanLabel.objects.filter(task=task).count() == 1
    assert HumanLabel.objects.get(task=task).choice == 1
    task.refresh_from_db()
    assert task.status == "done"


def test_submit_validates_choice_and_rating_scale():
    p = profile("r1")
    make_tasks(1, name="rt", rating=True)
    task = review_task_claim(reviewer=p)
    assert task.example.task == "rating"
    with pytest.raises(ReviewError, match="between 1 and 10"):
        review_label_submit(task=task, reviewer=p, rating=11)
    with pytest.raises(ReviewError, match="Unknown flag"):
        review_label_submit(task=task, reviewer=p, rating=5, flags=["nope"])
    label = review_label_submit(task=task, reviewer=p, rating=10, flags=["unsafe"])
    assert (label.rating, label.flags, label.source) == (10.0, ["unsafe"], "review")
    task.example.refresh_from_db()
    assert task.example.flagged is True


def test_second_review_then_adjudication_on_disagreement(settings):
    settings.REVIEW_SECOND_SHARE = 1.0
    a, b = profile("a"), profile("b")
    judge = profile("judge", level="adjudicator")
    make_tasks(1)
    Credential.objects.filter(reviewer=judge).update(paused=True)  # keep the adjudicator out of round 1
    t1 = review_task_claim(reviewer=a)
    review_label_submit(task=t1, reviewer=a, choice=1)
    second = ReviewTask.objects.get(kind="second")
    assert second.assignee_id == b.pk
    assert review_task_claim(reviewer=a) is None  # never the earlier labeler
    t2 = review_task_claim(reviewer=b)
    assert t2.pk == second.pk
    review_label_submit(task=t2, reviewer=b, choice=2)
    adj = ReviewTask.objects.get(kind="adjudication")
    assert (adj.min_level, adj.status) == ("adjudicator", "unstaffed")
    Credential.objects.filter(reviewer=judge).update(paused=False)
    assert review_task_claim(reviewer=a) is None
    t3 = review_task_claim(reviewer=judge)
    assert t3.pk == adj.pk
    review_label_submit(task=t3, reviewer=judge, choice=2)
    assert ReviewTask.objects.filter(kind="adjudication").count() == 1


def test_second_review_agreement_needs_no_adjudication(settings):
    settings.REVIEW_SECOND_SHARE = 1.0
    a, b = profile("a"), profile("b")
    make_tasks(1)
    review_label_submit(task=review_task_claim(reviewer=a), reviewer=a, choice=1)
    review_label_submit(task=review_task_claim(reviewer=b), reviewer=b, choice=1)
    assert not ReviewTask.objects.filter(kind="adjudication").exists()


def test_skip_hands_task_to_someone_else_and_never_back():
    a, b = profile("a"), profile("b")
    task = make_tasks(1)[0]
    claimed = review_task_claim(reviewer=a) if task.assignee_id == a.pk else review_task_claim(reviewer=b)
    holder, other = (a, b) if claimed.assignee_id == a.pk else (b, a)
    with pytest.raises(ReviewError, match="reason"):
        review_task_skip(task=claimed, reviewer=holder, reason=" ")
    review_task_skip(task=claimed, reviewer=holder, reason="not my language")
    assert review_task_claim(reviewer=holder) is None
    assert review_task_claim(reviewer=other).pk == task.pk
    assert TaskSkip.objects.get().reason == "not my language"


def test_escalate_raises_level_and_reroutes():
    p = profile("prac")
    expert = profile("exp", level="expert")
    Credential.objects.filter(reviewer=expert).update(paused=True)
    task = make_tasks(1)[0]
    claimed = review_task_claim(reviewer=p)
    review_task_skip(task=claimed, reviewer=p, reason="needs a physician", escalate=True)
    task.refresh_from_db()
    assert (task.min_level, task.status) == ("expert", "unstaffed")
    Credential.objects.filter(reviewer=expert).update(paused=False)
    assert review_task_claim(reviewer=expert).pk == task.pk


def test_flag_needs_higher_credential_creates_senior_review():
    p = profile("prac")
    profile("exp", level="expert")
    make_tasks(1)
    claimed = review_task_claim(reviewer=p)
    review_label_submit(task=claimed, reviewer=p, choice=1, flags=["needs_higher_credential"])
    follow = ReviewTask.objects.get(kind="second")
    assert follow.min_level == "expert"
    assert follow.assignee.user.username == "exp"


def test_capacity_per_day_limits_claims():
    p = profile("r1", capacity_per_day=1)
    make_tasks(2)
    review_label_submit(task=review_task_claim(reviewer=p), reviewer=p, choice=1)
    assert review_task_claim(reviewer=p) is None


def test_paused_reviewer_gets_nothing():
    p = profile("r1", status="paused")
    make_tasks(1)
    assert review_task_claim(reviewer=p) is None


def test_reviewer_without_credential_never_sees_item():
    holder = profile("holder")
    profile("outsider", prefixes=("medicine",))
    make_tasks(1)
    task = review_task_claim(reviewer=holder)
    outsider = _client("outsider")
    page = outsider.get("/review/")
    assert page.status_code == 200
    assert "Question 0?" not in page.content.decode()
    assert 'data-task-id=""' in page.content.decode()
    assert outsider.get(f"/review/task/{task.public_id}/").status_code == 404
    resp = outsider.post(f"/review/task/{task.public_id}/submit/", {"task": task.public_id, "choice": "1"})
    assert resp.status_code == 409
    assert "Question 0?" not in resp.content.decode()
    assert HumanLabel.objects.filter(task=task).count() == 0
    skip = {"task": task.public_id, "reason": "x"}
    assert outsider.post(f"/review/task/{task.public_id}/skip/", skip).status_code == 404
    assert _client("holder").get(f"/review/task/{task.public_id}/").status_code == 200


def test_review_pages_need_reviewer_role(lead_user):
    anon = Client()
    assert anon.get("/review/").status_code == 302
    lead = _client("lead")
    assert lead.get("/review/").status_code == 403
    assert lead.get("/review/me/").status_code == 403
    assert lead.get("/review/roster/").status_code == 403


def test_htmx_submit_swaps_in_next_item_and_hides_judge():
    p = profile("r1")
    make_tasks(2)
    c = _client("r1")
    page = c.post("/review/next/", HTTP_HX_REQUEST="true").content.decode()
    first = review_task_claim(reviewer=p)
    assert f'data-task-id="{first.public_id}"' in page
    assert "judge-x" not in page
    label = {"task": first.public_id, "choice": "t", "rationale": "same"}
    resp = c.post(f"/review/task/{first.public_id}/submit/", label, HTTP_HX_REQUEST="true")
    body = resp.content.decode()
    assert resp.status_code == 200
    assert body.lstrip().startswith('<section id="review-item"')
    assert "<html" not in body
    second = review_task_claim(reviewer=p)
    assert f'data-task-id="{second.public_id}"' in body
    assert HumanLabel.objects.get(task=first).choice == 0


def test_htmx_submit_without_choice_is_422_and_keeps_item():
    p = profile("r1")
    make_tasks(1)
    c = _client("r1")
    task = review_task_claim(reviewer=p)
    resp = c.post(f"/review/task/{task.public_id}/submit/", {"task": task.public_id, "rationale": "?"},
                  HTTP_HX_REQUEST="true")
    assert resp.status_code == 422
    body = resp.content.decode()
    assert "Choose response 1, response 2 or tie." in body
    assert f'data-task-id="{task.public_id}"' in body
    assert '<textarea name="rationale" rows="2" maxlength="5000">?</textarea>' in body  # kept, not lost


@pytest.mark.parametrize("url", ["/review/task/{}/heartbeat/", "/api/review/tasks/{}/heartbeat/"], ids=["htmx", "api"])
def test_heartbeat_renews_lease_only_for_holder(url):
    a = profile("a")
    profile("b")
    make_tasks(1)
    task = review_task_claim(reviewer=a)
    ReviewTask.objects.filter(pk=task.pk).update(lease_expires_at=timezone.now() + timedelta(seconds=5))
    assert _client("a").post(url.format(task.public_id)).status_code == 200
    task.refresh_from_db()
    assert task.lease_expires_at > timezone.now() + timedelta(minutes=14)
    assert _client("b").post(url.format(task.public_id)).status_code == 409
    assert _client("b").post(url.format("no-such-item")).status_code == 409  # no such task: the same refusal


def test_api_next_and_submit_use_same_services():
    profile("r1")
    make_tasks(1)
    c = _client("r1")
    nxt = c.post("/api/review/next/")
    assert nxt.status_code == 200
    data = nxt.json()
    assert set(data) == {
        "id",
        "domain",
        "task",
        "prompt",
        "responses",
        "scale_min",
        "scale_max",
        "lease_expires_at",
        "submit_url",
    }
    assert c.post(data["submit_url"], {"choice": "9"}, content_type="application/json").status_code == 400
    ok = c.post(data["submit_url"], {"choice": "2", "rationale": "r"}, content_type="application/json")
    again = c.post(data["submit_url"], {"choice": "1"}, content_type="application/json")
    assert ok.status_code == 201
    assert again.json()["label_id"] == ok.json()["label_id"]
    assert again.json()["choice"] == 2
    assert c.post("/api/review/next/").status_code == 204


def test_api_refuses_non_reviewers(lead_user):
    assert _client("lead").post("/api/review/next/").status_code == 403


def test_unstaffed_tasks_notify_admins_once_per_domain():
    items = [factories.pairwise_item(i, domain="nobody/covers", judgments=[]) for i in range(3)]
    batch_route(batch=factories.batch("u1", items=items).batch)
    batch_route(batch=factories.batch("u2", items=items).batch)
    notes = list(Notification.objects.values_list("kind", "message"))
    assert notes == [("unstaffed", "Tasks in domain nobody/covers have no reviewer with a matching credential.")]
    assert ReviewTask.objects.filter(status="unstaffed").count() == 6
