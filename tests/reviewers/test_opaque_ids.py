"""Reviewers see opaque item ids: never the database id, nothing that tells gold, audit or
adjudication items from the rest."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from reviewers.models import HumanLabel, ReviewTask
from reviewers.services import review_task_claim
from tests import factories
from tests.factories import make_tasks, profile

pytestmark = pytest.mark.django_db
KIND_WORDS = re.compile(r"adjudicat|disagree|gold|audit|second review|earlier reviewer", re.I)


def _client(username: str) -> Client:
    c = Client()
    assert c.login(username=username, password=factories.PASSWORD)
    return c


def test_item_page_shows_the_public_id_never_the_database_id():
    p = profile("r1")
    make_tasks(3)
    task = review_task_claim(reviewer=p)
    body = _client("r1").get("/review/").content.decode()
    assert f"item {task.public_id}" in body
    assert f"/review/task/{task.public_id}/submit/" in body
    assert f"#{task.pk}" not in body
    assert f"/task/{task.pk}/" not in body
    assert f'name="task" value="{task.public_id}"' in body


def test_public_ids_are_random_not_in_creation_order():
    tasks = make_tasks(40)
    ids = [t.public_id for t in tasks]
    assert len(set(ids)) == 40
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{12}", i) for i in ids)
    assert ids != sorted(ids)


def test_submit_by_database_id_is_404_and_stores_nothing():
    p = profile("r1")
    make_tasks(1)
    task = review_task_claim(reviewer=p)
    resp = _client("r1").post(f"/review/task/{task.pk}/submit/", {"task": str(task.pk), "choice": "1"},
                              HTTP_HX_REQUEST="true")
    assert resp.status_code == 404
    assert HumanLabel.objects.filter(source="review").count() == 0
    assert ReviewTask.objects.get(pk=task.pk).status == "leased"


@pytest.mark.parametrize("kind", ["adjudication", "audit", "second", "routed"])
def test_item_page_does_not_reveal_the_task_kind(kind):
    p = profile("r1", level="adjudicator")
    make_tasks(1, kind=kind)
    task = review_task_claim(reviewer=p)
    assert task is not None and task.kind == kind
    body = _client("r1").get(f"/review/task/{task.public_id}/").content.decode()
    assert KIND_WORDS.findall(body) == []
