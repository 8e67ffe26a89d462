"""The reviewer's forms over plain HTTP: they post without JavaScript (post/redirect/get), a GET
claims nothing, a submit for another item is refused, and the lease rules of submit and
heartbeat (still allowed to review, longest reservation)."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.utils import timezone

from reviewers.models import Credential, HumanLabel, ReviewerProfile, ReviewTask
from reviewers.services import credential_pause, review_task_claim
from tests import factories
from tests.factories import make_tasks, profile

pytestmark = pytest.mark.django_db
HEARTBEATS = pytest.mark.parametrize(
    "url", ["/review/task/{}/heartbeat/", "/api/review/tasks/{}/heartbeat/"], ids=["htmx", "api"]
)


def _client(username: str, **kw) -> Client:
    c = Client(**kw)
    assert c.login(username=username, password=factories.PASSWORD)
    return c


class _FormFields(HTMLParser):
    """The method, action and fields of one form of a page, as a browser without JS sees them."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id, self.inside = form_id, False
        self.method = self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id") == self.form_id:
            self.inside, self.method, self.action = True, a.get("method", ""), a.get("action", "")
        elif self.inside and tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


def _form(html: str, form_id: str) -> _FormFields:
    parser = _FormFields(form_id)
    parser.feed(html)
    return parser


def _tasks_snapshot() -> list[tuple]:
    return list(
        ReviewTask.objects.order_by("id").values_list("id", "status", "assignee_id", "lease_expires_at", "claimed_at")
    )


def test_get_queue_claims_nothing_and_offers_a_post_to_start():
    p = profile("r1")
    make_tasks(2)
    before = _tasks_snapshot()
    resp = _client("r1").get("/review/")
    assert resp.status_code == 200
    assert _tasks_snapshot() == before
    assert ReviewTask.objects.filter(assignee=p, status="leased").count() == 0
    start = _form(resp.content.decode(), "next-form")
    assert (start.method, start.action) == ("post", "/review/next/")
    assert set(start.fields) == {"csrfmiddlewaretoken"}
    assert 'hx-trigger="load, submit"' in resp.content.decode()


def test_get_queue_shows_held_item_without_renewing_it():
    p = profile("r1")
    make_tasks(2)
    task = review_task_claim(reviewer=p)
    soon = timezone.now() + timedelta(minutes=2)
    ReviewTask.objects.filter(pk=task.pk).update(lease_expires_at=soon)
    before = _tasks_snapshot()
    body = _client("r1").get("/review/").content.decode()
    assert _tasks_snapshot() == before
    assert f'data-task-id="{task.public_id}"' in body
    assert 'hx-trigger="load, every 60s"' in body  # the page renews it by POST once loaded


def test_native_post_claims_then_stores_label_and_redirects_to_queue():
    p = profile("r1")
    make_tasks(2)
    c = _client("r1", enforce_csrf_checks=True)
    start = _form(c.get("/review/").content.decode(), "next-form")
    claimed = c.post(start.action, start.fields)
    assert (claimed.status_code, claimed["Location"]) == (303, "/review/")
    task = ReviewTask.objects.get(assignee=p, status="leased")
    page = c.get("/review/").content.decode()
    form = _form(page, "label-form")
    assert (form.method, form.action) == ("post", f"/review/task/{task.public_id}/submit/")
    assert set(form.fields) == {"csrfmiddlewaretoken", "task"}
    resp = c.post(form.action, {**form.fields, "choice": "2", "rationale": "no JS"})
    assert (resp.status_code, resp["Location"]) == (303, "/review/")
    label = HumanLabel.objects.get(task=task)
    assert (label.reviewer_id, label.choice, label.rationale) == (p.pk, 2, "no JS")
    after = c.get("/review/").content.decode()
    assert f"Saved your label for item {task.public_id}." in after
    assert ReviewTask.objects.filter(assignee=p, status="leased").count() == 0  # the GET claimed nothing


def test_native_skip_posts_and_redirects_to_queue():
    p = profile("r1")
    make_tasks(1)
    c = _client("r1", enforce_csrf_checks=True)
    task = review_task_claim(reviewer=p)
    form = _form(c.get("/review/").content.decode(), "skip-form")
    assert (form.method, form.action) == ("post", f"/review/task/{task.public_id}/skip/")
    resp = c.post(form.action, {**form.fields, "reason": "not my field"})
    assert (resp.status_code, resp["Location"]) == (303, "/review/")
    assert task.skips.get().reason == "not my field"


def test_submit_for_item_held_by_someone_else_is_409_and_stores_nothing():
    a, b = profile("a"), profile("b")
    make_tasks(2)
    mine, theirs = review_task_claim(reviewer=a), review_task_claim(reviewer=b)
    resp = _client("a").post(
        f"/review/task/{theirs.public_id}/submit/", {"task": theirs.public_id, "choice": "1"}, HTTP_HX_REQUEST="true"
    )
    body = resp.content.decode()
    assert resp.status_code == 409
    assert '<p class="notice" role="status">This item is no longer yours' in body
    assert f'data-task-id="{mine.public_id}"' in body  # the item they do hold
    assert HumanLabel.objects.filter(source="review").count() == 0


def test_submit_whose_form_names_another_item_is_409_and_stores_nothing():
    p = profile("r1")
    first, other = make_tasks(2)
    held = review_task_claim(reviewer=p)
    assert held.pk == first.pk
    resp = _client("r1").post(
        f"/review/task/{held.public_id}/submit/", {"task": other.public_id, "choice": "1"}, HTTP_HX_REQUEST="true"
    )
    assert resp.status_code == 409
    assert f"This answer was given on item {other.public_id}, not on item {held.public_id}: nothing was saved." in (
        resp.content.decode()
    )
    assert HumanLabel.objects.filter(source="review").count() == 0
    assert ReviewTask.objects.get(pk=held.pk).status == "leased"


def test_submit_refused_once_credential_paused():
    p = profile("r1")
    make_tasks(1)
    task = review_task_claim(reviewer=p)
    credential_pause(credential=p.credentials.get(), reason="gold accuracy 50%")
    label = {"task": task.public_id, "choice": "1"}
    resp = _client("r1").post(f"/review/task/{task.public_id}/submit/", label, HTTP_HX_REQUEST="true")
    assert resp.status_code == 403
    assert "You may no longer review this item" in resp.content.decode()
    assert HumanLabel.objects.filter(source="review").count() == 0


@HEARTBEATS
@pytest.mark.parametrize("change", ["reviewer_suspended", "reviewer_paused", "credential_paused", "credential_expired"])
def test_heartbeat_refused_once_reviewer_may_no_longer_review(url, change):
    p = profile("r1")
    make_tasks(1)
    task = review_task_claim(reviewer=p)
    if change.startswith("reviewer"):
        ReviewerProfile.objects.filter(pk=p.pk).update(status=change.removeprefix("reviewer_"))
    elif change == "credential_paused":
        credential_pause(credential=p.credentials.get(), reason="gold accuracy 50%")
    else:
        Credential.objects.filter(reviewer=p).update(expires_at=timezone.now() - timedelta(seconds=1))
    resp = _client("r1").post(url.format(task.public_id))
    assert resp.status_code == 403
    assert "You may no longer review this item" in resp.content.decode()
    assert ReviewTask.objects.get(pk=task.pk).lease_expires_at == task.lease_expires_at


@HEARTBEATS
def test_heartbeat_never_renews_past_lease_max_life(url, settings):
    settings.REVIEW_LEASE_MAX_MINUTES = 120
    p = profile("r1")
    make_tasks(1)
    task = review_task_claim(reviewer=p)
    claimed = timezone.now() - timedelta(minutes=110)
    soon = timezone.now() + timedelta(minutes=1)
    ReviewTask.objects.filter(pk=task.pk).update(claimed_at=claimed, lease_expires_at=soon)
    c = _client("r1")
    assert c.post(url.format(task.public_id)).status_code == 200
    assert ReviewTask.objects.get(pk=task.pk).lease_expires_at == claimed + timedelta(minutes=120)  # not now + 15 min
    ReviewTask.objects.filter(pk=task.pk).update(claimed_at=claimed - timedelta(minutes=11))
    resp = c.post(url.format(task.public_id))
    assert resp.status_code == 409
    assert "reserved for you for 120 minutes, the longest allowed" in resp.content.decode()
    assert ReviewTask.objects.get(pk=task.pk).lease_expires_at == claimed + timedelta(minutes=120)


def test_claim_keeps_lease_at_max_life_then_returns_it_to_pool(settings):
    settings.REVIEW_LEASE_MAX_MINUTES = 30
    p = profile("r1")
    make_tasks(1)
    task = review_task_claim(reviewer=p)
    claimed = timezone.now() - timedelta(minutes=31)
    lease_end = timezone.now() + timedelta(minutes=1)
    ReviewTask.objects.filter(pk=task.pk).update(claimed_at=claimed, lease_expires_at=lease_end)
    again = review_task_claim(reviewer=p)
    assert (again.pk, again.lease_expires_at) == (task.pk, lease_end)  # kept while it lasts, not renewed
    ReviewTask.objects.filter(pk=task.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    fresh = review_task_claim(reviewer=p)  # ended for good: back to the pool, and claimed anew
    assert fresh.pk == task.pk
    assert fresh.claimed_at > timezone.now() - timedelta(minutes=1)
