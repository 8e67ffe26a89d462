"""The reviewer UI in headless Chromium: keyboard-only labeling, leases, access, and untrusted
model output that must execute nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from reviewers.models import HumanLabel, ReviewTask
from reviewers.services import review_task_claim
from tests import factories
from tests.factories import make_tasks, profile

pytestmark = [pytest.mark.browser]


def _login(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next=/review/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/review/")


def _csrf(page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")


def _task_id(page) -> str:
    return page.get_attribute("#review-item", "data-task-id")


def _wait_task(page, task_id: object) -> None:
    page.wait_for_selector(f'#review-item[data-task-id="{task_id}"]')


def test_keyboard_only_labels_pairwise_then_rating(transactional_db, live_server, page):
    profile("rev")
    pairwise = make_tasks(1, name="pw")[0]
    rating = make_tasks(1, name="rt", rating=True)[0]
    _login(page, live_server, "rev")
    assert _task_id(page) == str(pairwise.pk)
    assert page.is_visible("text=Submit")
    page.keyboard.press("2")
    assert page.is_checked('#label-form input[name=choice][value="2"]')
    page.keyboard.press("r")
    page.keyboard.type("B is more accurate")
    page.keyboard.press("Escape")
    page.keyboard.press("u")
    page.keyboard.press("Enter")
    _wait_task(page, rating.pk)
    assert page.url == f"{live_server.url}/review/"  # swapped in place, no navigation
    page.keyboard.press("1")
    page.keyboard.press("0")
    assert page.input_value("#rating-input") == "10"
    page.keyboard.press("-")
    page.keyboard.press("Enter")
    _wait_task(page, "")
    assert page.is_visible("text=No items are waiting for you")
    first = HumanLabel.objects.get(task_id=pairwise.pk)
    assert (first.choice, first.rationale, first.flags) == (2, "B is more accurate", ["unsafe"])
    second = HumanLabel.objects.get(task_id=rating.pk)
    assert (second.rating, second.choice) == (9.0, None)
    assert set(ReviewTask.objects.values_list("status", flat=True)) == {"done"}


def test_enter_without_choice_shows_error_and_keeps_item(transactional_db, live_server, page):
    profile("rev")
    task = make_tasks(1)[0]
    _login(page, live_server, "rev")
    page.keyboard.press("Enter")
    page.wait_for_selector("#review-item .error")
    assert "Choose response 1, response 2 or tie." in page.inner_text("#review-item .error")
    assert _task_id(page) == str(task.pk)
    page.keyboard.press("t")
    page.keyboard.press("Enter")
    _wait_task(page, "")
    assert HumanLabel.objects.get(task=task).choice == 0


def test_expired_lease_hands_item_to_another_reviewer(transactional_db, live_server, page, browser):
    profile("ann")
    profile("bob")
    task = make_tasks(1)[0]
    _login(page, live_server, "ann")
    assert _task_id(page) == str(task.pk)
    ReviewTask.objects.filter(pk=task.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    other = browser.new_context().new_page()
    try:
        _login(other, live_server, "bob")
        assert _task_id(other) == str(task.pk)
        page.keyboard.press("1")
        page.keyboard.press("Enter")
        page.wait_for_selector("#review-item .notice")
        assert "no longer yours" in page.inner_text("#review-item .notice")
        assert _task_id(page) == ""
        other.keyboard.press("2")
        other.keyboard.press("Enter")
        _wait_task(other, "")
    finally:
        other.context.close()
    label = HumanLabel.objects.get(task=task)
    assert (label.reviewer.user.username, label.choice) == ("bob", 2)


def test_reviewer_without_credential_never_sees_item(transactional_db, live_server, page):
    holder = profile("holder")
    profile("outsider", prefixes=("medicine",))
    make_tasks(1)
    task = review_task_claim(reviewer=holder)
    _login(page, live_server, "outsider")
    assert _task_id(page) == ""
    assert "Question 0?" not in page.content()
    response = page.goto(f"{live_server.url}/review/task/{task.pk}/")
    assert response.status == 404
    assert "Question 0?" not in page.content()
    api = page.request.post(f"{live_server.url}/api/review/next/", headers={"X-CSRFToken": _csrf(page)})
    assert api.status == 204


PAYLOADS = [
    "<script>window.__pwned = 1</script>",
    '<img src=x onerror="window.__pwned = 2">',
    "[click me](javascript:window.__pwned=3)",
    '<a href="javascript:window.__pwned=4">link</a>',
    '<svg onload="window.__pwned = 5"></svg><iframe src="javascript:window.__pwned=6"></iframe>',
    'Some **markdown** with <details open ontoggle="window.__pwned=7">x</details> embedded HTML',
    "```html\n<script>window.__pwned = 8</script>\n```",
    "<img src=x onerror=alert(1)>",
    "[ok](https://example.org) and ![img](javascript:window.__pwned=9)",
]


def test_model_output_executes_nothing(transactional_db, live_server, page):
    profile("rev")
    evil = "\n\n".join(PAYLOADS)
    tasks = make_tasks(2, prompt=evil, responses=[evil, "<script>window.__pwned = 10</script>" + evil])
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _login(page, live_server, "rev")
    _wait_task(page, tasks[0].pk)
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#review-item script, #review-item img, #review-item iframe, #review-item svg").count() == 0
    assert page.locator('#review-item a[href^="javascript"]').count() == 0
    assert page.locator('#review-item a[href="https://example.org"]').count() == 3
    assert "<script>window.__pwned = 1</script>" in page.inner_text("#review-item .prompt-box")
    page.keyboard.press("1")
    page.keyboard.press("Enter")  # the second item arrives through an htmx swap
    _wait_task(page, tasks[1].pk)
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#review-item script, #review-item img").count() == 0
    assert dialogs == []
