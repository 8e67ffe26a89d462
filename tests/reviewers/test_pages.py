"""The reviewer's own page, agreement and notifications for admins, racing double submits."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client

from reviewers.models import HumanLabel, Notification
from reviewers.selectors import agreement_by_domain, reviewer_stats
from reviewers.services import ReviewError, credential_pause, review_label_submit, review_task_claim
from tests import factories
from tests.factories import make_tasks, profile


def _client(username: str) -> Client:
    c = Client()
    assert c.login(username=username, password=factories.PASSWORD)
    return c


def _label(reviewer, choice: int, seconds: float | None = None):
    task = review_task_claim(reviewer=reviewer)
    return review_label_submit(task=task, reviewer=reviewer, choice=choice, seconds_spent=seconds)


@pytest.mark.django_db
def test_me_page_shows_own_figures(settings):
    settings.REVIEW_SECOND_SHARE = 1.0
    a, b = profile("a"), profile("b")
    judge = profile("judge", level="adjudicator")
    make_tasks(1)
    _label(a, 1, seconds=30)
    _label(b, 2, seconds=10)  # second review disagrees -> adjudication
    _label(judge, 1, seconds=50)
    stats = reviewer_stats(a)
    assert stats["done_today"] == 1
    assert (stats["adjudicated"].hits, stats["adjudicated"].n) == (1, 1)
    assert stats["median_seconds"] == 30
    assert (reviewer_stats(b)["adjudicated"].hits, reviewer_stats(b)["adjudicated"].n) == (0, 1)
    page = _client("a").get("/review/me/").content.decode()
    assert '<td class="num" id="done-today">1</td>' in page
    assert '<td class="num" id="adjudicated-agreement">1</td>' in page
    assert '<td class="num" id="median-seconds">30 s</td>' in page


@pytest.mark.django_db
def test_agreement_by_domain_on_roster(settings, admin_user):
    settings.REVIEW_SECOND_SHARE = 1.0
    a, b = profile("a"), profile("b")
    make_tasks(4)
    # a labels all four first (1, 1, 2, 2); b then gives the second reviews (1, 2, 2, 2)
    for choice in (1, 1, 2, 2):
        _label(a, choice)
    for choice in (1, 2, 2, 2):
        _label(b, choice)
    [row] = agreement_by_domain()
    # kappa: p_o = 3/4; a: 1:2, 2:2; b: 1:1, 2:3; p_e = (2*1 + 2*3)/16 = 1/2; kappa = 0.5
    assert (row["domain"], row["items"]) == ("test/general", 4)
    assert row["kappa"] == pytest.approx(0.5)
    # alpha: o11 = 2, o22 = 4, o12 = o21 = 1; n1 = 3, n2 = 5, n = 8 -> 1 - 7*2/30
    assert row["alpha"] == pytest.approx(1 - 14 / 30)
    page = _client("admin").get("/review/roster/").content.decode()
    assert '<td>test/general</td><td class="num">4</td><td class="num">0.500</td>' in page


@pytest.mark.django_db
def test_paused_credential_notification_listed_and_resolved(admin_user):
    p = profile("r1")
    credential_pause(credential=p.credentials.get(), reason="gold accuracy 50%")
    c = _client("admin")
    page = c.get("/review/roster/").content.decode()
    assert "R1: credential test paused: gold accuracy 50%" in page
    note = Notification.objects.get()
    assert c.post(f"/review/notifications/{note.pk}/resolve/").status_code == 302
    assert "gold accuracy 50%" not in c.get("/review/roster/").content.decode().split('id="roster"')[0]
    assert c.post(f"/review/notifications/{note.pk}/resolve/").status_code == 404


@pytest.mark.django_db
def test_double_click_over_http_stores_one_label():
    p = profile("r1")
    make_tasks(2)
    c = _client("r1")
    task = review_task_claim(reviewer=p)
    url = f"/review/task/{task.public_id}/submit/"
    first = c.post(url, {"task": task.public_id, "choice": "1"}, HTTP_HX_REQUEST="true")
    second = c.post(url, {"task": task.public_id, "choice": "2"}, HTTP_HX_REQUEST="true")
    assert (first.status_code, second.status_code) == (200, 200)
    assert HumanLabel.objects.filter(task=task).count() == 1
    assert HumanLabel.objects.get(task=task).choice == 1


def test_racing_submits_store_one_label(transactional_db):
    p = profile("r1")
    make_tasks(1)
    task = review_task_claim(reviewer=p)
    barrier = threading.Barrier(8)
    results: list[int] = []
    errors: list[Exception] = []

    def submit() -> None:
        try:
            barrier.wait()
            results.append(review_label_submit(task=task, reviewer=p, choice=1).pk)
        except (ReviewError, Exception) as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(results) == 8
    assert len(set(results)) == 1
    assert HumanLabel.objects.filter(task=task).count() == 1
