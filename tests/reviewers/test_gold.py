"""Gold items: marking them, mixing them in, and pausing credentials on low accuracy."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.test import Client

from reviewers.models import Credential, HumanLabel, Notification, ReviewTask
from reviewers.selectors import reviewer_stats
from reviewers.services import (
    batch_gold_from_labels,
    credential_pause,
    gold_check,
    gold_mark,
    review_label_submit,
    review_label_undo,
    review_task_claim,
)
from reviewers.services.gold import gold_accuracy
from routing.batches.models import Example
from tests import factories
from tests.factories import make_examples, make_tasks, profile

pytestmark = pytest.mark.django_db


def _gold_examples(n: int, name: str = "gold") -> list[Example]:
    return [gold_mark(example=e, choice=1) for e in make_examples(n, name=name)]


def _answer_gold(reviewer, right: int, wrong: int) -> None:
    for i in range(right + wrong):
        task = review_task_claim(reviewer=reviewer)
        assert task.kind == "gold", f"item {i} was not a gold check"
        review_label_submit(task=task, reviewer=reviewer, choice=1 if i < right else 2)


def test_gold_accuracy_below_threshold_pauses_credential(settings, admin_user):
    settings.REVIEW_GOLD_SHARE = 1.0  # every item a gold check, so the test controls the count
    p = profile("r1")
    _gold_examples(20)
    _answer_gold(p, right=15, wrong=5)  # 75% over 20 gold items: below 80%
    cred = Credential.objects.get(reviewer=p)
    assert cred.paused is True
    assert "gold accuracy 75%" in cred.paused_reason
    note = Notification.objects.get()
    assert (note.kind, note.credential_id) == ("credential_paused", cred.pk)
    assert review_task_claim(reviewer=p) is None
    c = Client()
    c.login(username="admin", password=factories.PASSWORD)
    roster = c.get("/review/roster/").content.decode()
    assert "gold 15/20 (0.53–0.89)" in roster
    assert "R1: credential test paused: gold accuracy 75% (95% CI 53%-89%) over 20 gold items" in roster


def test_gold_accuracy_not_judged_before_twenty_items(settings):
    settings.REVIEW_GOLD_SHARE = 1.0
    p = profile("r1")
    _gold_examples(19)
    _answer_gold(p, right=10, wrong=9)  # 53% but only 19 items
    assert Credential.objects.get(reviewer=p).paused is False
    assert not Notification.objects.exists()


def test_gold_accuracy_at_threshold_keeps_credential(settings):
    settings.REVIEW_GOLD_SHARE = 1.0
    p = profile("r1")
    _gold_examples(20)
    _answer_gold(p, right=16, wrong=4)  # exactly 80%
    assert Credential.objects.get(reviewer=p).paused is False
    stats = reviewer_stats(p)
    assert (stats["gold"].hits, stats["gold"].n) == (16, 20)
    assert stats["gold"].low == pytest.approx(0.5840, abs=1e-3)  # Wilson 95% for 16/20


def test_gold_mixed_in_at_default_share(settings):
    settings.REVIEW_GOLD_SHARE = 0.05
    p = profile("r1", capacity_per_day=500)
    _gold_examples(5)

    make_tasks(40, name="real")
    kinds = []
    for _ in range(42):
        task = review_task_claim(reviewer=p)
        kinds.append(task.kind)
        review_label_submit(task=task, reviewer=p, choice=1)
    assert kinds.count("gold") == 2  # 5% of 42 items, at items 20 and 40
    assert kinds.index("gold") == 19


def test_gold_only_from_reviewers_domains(settings):
    settings.REVIEW_GOLD_SHARE = 1.0
    p = profile("r1", prefixes=("medicine",))
    _gold_examples(3)  # domain test/general
    assert review_task_claim(reviewer=p) is None


def test_batch_gold_from_labels_uses_majority():
    items = [
        factories.pairwise_item(
            0,
            human_labels=[
                {"annotator": "x", "choice": 2},
                {"annotator": "y", "choice": 2},
                {"annotator": "z", "choice": 1},
            ],
        ),
        factories.pairwise_item(1, human_labels=[{"annotator": "x", "choice": 1}, {"annotator": "y", "choice": 2}]),
        factories.pairwise_item(2, human_labels=[]),
    ]
    batch = factories.batch("g", items=items).batch
    assert batch_gold_from_labels(batch=batch) == 1
    gold = Example.objects.get(is_gold=True)
    assert (gold.external_id, gold.gold_choice) == ("item-0", 2)


def test_mark_gold_command_and_lead_endpoint(lead_user):
    batch = factories.batch("g").batch  # each item has one imported label (choice 1)
    call_command("mark_gold", "g", "--from-labels")
    assert Example.objects.filter(batch=batch, is_gold=True, gold_choice=1).count() == 5
    Example.objects.update(is_gold=False)
    c = Client()
    c.login(username="lead", password=factories.PASSWORD)
    posted = {"batch": "g", "from_labels": "on", "next": "/control/"}
    preview = c.post("/review/gold/", posted)  # first the list of what would be marked, nothing written
    assert preview.status_code == 200 and not Example.objects.filter(batch=batch, is_gold=True).exists()
    token = re.search(r'name="confirm_token" value="([^"]+)"', preview.content.decode()).group(1)
    resp = c.post("/review/gold/", {**posted, "confirm_token": token})
    assert resp.status_code == 302
    assert resp["Location"] == "/control/"
    assert Example.objects.filter(batch=batch, is_gold=True).count() == 5
    assert c.post("/review/gold/", {"batch": "nope"}).status_code == 404


def test_gold_tasks_look_like_real_tasks_to_reviewer(settings):
    settings.REVIEW_GOLD_SHARE = 1.0
    profile("r1")
    _gold_examples(1)
    c = Client()
    c.login(username="r1", password=factories.PASSWORD)
    page = c.post("/review/next/", HTTP_HX_REQUEST="true").content.decode()
    task = ReviewTask.objects.get(kind="gold")
    assert f'data-task-id="{task.public_id}"' in page
    assert "gold" not in page.lower()
    assert HumanLabel.objects.filter(source="review").count() == 0


def test_undo_of_the_failing_gold_answer_makes_the_credential_active_again(settings):
    settings.REVIEW_GOLD_SHARE = 1.0
    p = profile("r1")
    _gold_examples(21)
    _answer_gold(p, right=16, wrong=4)  # 16/20 = 80%: at the threshold, still active
    assert Credential.objects.get(reviewer=p).paused is False
    task = review_task_claim(reviewer=p)
    review_label_submit(task=task, reviewer=p, choice=2)  # 16/21 = 76%: below 80%
    cred = Credential.objects.get(reviewer=p)
    assert (cred.paused, cred.paused_reason) == (
        True, "gold accuracy 76% (95% CI 55%-89%) over 21 gold items in test is below 80%")
    assert Notification.objects.get().resolved_at is None
    restored = review_label_undo(reviewer=p)
    assert restored.pk == task.pk and restored.status == ReviewTask.Status.LEASED
    gold = gold_accuracy(p, "test")
    assert (gold.hits, gold.n, gold.value) == (16, 20, 0.8)
    cred.refresh_from_db()
    assert (cred.paused, cred.paused_reason) == (False, "")
    assert Notification.objects.get().resolved_at is not None


def test_gold_rule_lifts_only_its_own_pauses(settings):
    settings.REVIEW_GOLD_SHARE = 1.0
    p = profile("r1")
    _gold_examples(1)
    _answer_gold(p, right=1, wrong=0)
    credential_pause(credential=p.credentials.get(), reason="an admin is looking into this reviewer")
    assert gold_check(reviewer=p, example=Example.objects.get()) == []
    assert Credential.objects.get(reviewer=p).paused is True
