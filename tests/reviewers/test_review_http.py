"""The lease rules over HTTP: submit and heartbeat check that the reviewer may still review the
item, and a heartbeat never renews a lease past its longest reservation."""

from __future__ import annotations

from datetime import timedelta

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


def test_submit_refused_once_credential_paused():
    p = profile("r1")
    make_tasks(1)
    task = review_task_claim(reviewer=p)
    credential_pause(credential=p.credentials.get(), reason="gold accuracy 50%")
    label = {"task": task.pk, "choice": "1"}
    resp = _client("r1").post(f"/review/task/{task.pk}/submit/", label, HTTP_HX_REQUEST="true")
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
    resp = _client("r1").post(url.format(task.pk))
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
    assert c.post(url.format(task.pk)).status_code == 200
    assert ReviewTask.objects.get(pk=task.pk).lease_expires_at == claimed + timedelta(minutes=120)  # not now + 15 min
    ReviewTask.objects.filter(pk=task.pk).update(claimed_at=claimed - timedelta(minutes=11))
    resp = c.post(url.format(task.pk))
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
