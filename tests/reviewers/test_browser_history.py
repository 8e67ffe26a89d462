"""The reviewer's undo, key help and history in headless Chromium."""

from __future__ import annotations

import pytest

from reviewers.models import HumanLabel
from tests.factories import make_tasks, profile
from tests.reviewers.test_browser import _start_reviewing, _task_id, _wait_task

pytestmark = [pytest.mark.browser]


def test_undo_key_restores_the_previous_item(transactional_db, live_server, page):
    profile("rev")
    first, second = make_tasks(2, name="undo")
    _start_reviewing(page, live_server, "rev")
    assert _task_id(page) == first.public_id
    assert page.text_content("#queue-left").strip() == "1 left in your queue after this item."
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    _wait_task(page, second.public_id)
    assert HumanLabel.objects.filter(task=first).count() == 1
    assert page.text_content("#review-saved-count") == "1"
    page.keyboard.press("u")
    _wait_task(page, first.public_id)
    assert page.text_content("#review-saved-count") == "0"
    assert page.url == f"{live_server.url}/review/"
    assert "was withdrawn" in page.text_content("#review-item")
    assert HumanLabel.objects.filter(task=first).count() == 0
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    _wait_task(page, second.public_id)
    assert HumanLabel.objects.get(task=first).choice == 1


def test_question_mark_opens_key_help_and_escape_closes_it(transactional_db, live_server, page):
    profile("rev")
    task = make_tasks(1, name="help")[0]
    _start_reviewing(page, live_server, "rev")
    assert not page.is_visible("#help-overlay")
    page.keyboard.press("?")
    assert page.is_visible("#help-overlay")
    assert page.evaluate("document.activeElement.id") == "help-close"
    assert "undo your last label" in page.text_content("#help-overlay")
    page.keyboard.press("1")  # keys do nothing to the item while the help is open
    assert not page.is_checked('#label-form input[name=choice][value="1"]')
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.getElementById('help-overlay').contains(document.activeElement)")
    page.keyboard.press("Escape")
    assert not page.is_visible("#help-overlay")
    _wait_task(page, task.public_id)


def test_history_shows_the_label_just_given(transactional_db, live_server, page):
    profile("rev")
    task = make_tasks(1, name="hist")[0]
    _start_reviewing(page, live_server, "rev")
    page.keyboard.press("t")
    page.keyboard.press("Enter")
    _wait_task(page, "")
    label = HumanLabel.objects.get(task=task)
    page.click("text=My labels >> nth=0")
    page.wait_for_url(f"{live_server.url}/review/history/")
    row = page.locator(f'tr[data-label="{label.pk}"]')
    assert row.locator(".verdict").text_content() == "tie"
    assert task.public_id in row.text_content()
    row.locator("text=Correct").click()
    page.check('input[name=choice][value="1"]')
    page.click("text=Save the correction")
    page.wait_for_url(f"{live_server.url}/review/history/")
    assert page.locator(f'tr[data-label="{label.pk}"] .verdict').text_content() == "response 1"
