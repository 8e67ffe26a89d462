"""The reviewer UI in headless Chromium: keyboard-only labeling, keys pressed while the next item
loads, leases, access, and untrusted model output that must execute nothing."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from reviewers import views
from reviewers.models import HumanLabel, ReviewTask
from reviewers.services import review_task_claim
from tests.factories import make_tasks, profile
from tests.support.browser import login

pytestmark = [pytest.mark.browser]
CHOICES = {"1": 1, "2": 2, "t": 0}
# review.js marks the page ready once htmx has swapped in and processed the item; keys pressed
# before that are ignored, so every test waits for it before pressing the next one.
READY = """([id]) => {
  const layout = document.querySelector(".review-layout"), item = document.getElementById("review-item");
  return layout && item && layout.dataset.reviewState === "ready" && (id === null || item.dataset.taskId === id);
}"""


def _start_reviewing(page, live_server, username: str) -> None:
    """Sign in straight into the review queue and wait for its first item (or its empty state)."""
    login(page, live_server.url, username, next_path="/review/")
    page.wait_for_url(f"{live_server.url}/review/")
    _wait_task(page, None)


def _csrf(page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")


def _task_id(page) -> str:
    return page.get_attribute("#review-item", "data-task-id")


def _wait_task(page, task_id: object) -> None:
    """Until the item with this id (any item for None) is on screen and ready for keys."""
    page.wait_for_function(READY, arg=[None if task_id is None else str(task_id)])


def _requests(page) -> list[tuple[str, str, str]]:
    """Every request the page makes from now on: (method, url, resource type)."""
    seen: list[tuple[str, str, str]] = []
    page.on("request", lambda r: seen.append((r.method, r.url, r.resource_type)))
    return seen


def _keys(page) -> tuple[int, int]:
    """(keys applied, keys ignored while loading) as review.js counted them on this page."""
    layout = page.locator(".review-layout")
    return int(layout.get_attribute("data-keys-applied")), int(layout.get_attribute("data-keys-ignored"))


def _saved_in_ui(page) -> list[tuple[str, int]]:
    """(task, choice) of every label the page says the server saved, choice as the form sent it."""
    rows = page.eval_on_selector_all("#review-saved-list li", "els => els.map(e => [e.dataset.task, e.dataset.choice])")
    assert page.inner_text("#review-saved-count") == str(len(rows))
    return sorted((task, CHOICES[choice]) for task, choice in rows)


def _stored() -> list[tuple[str, int]]:
    return sorted(HumanLabel.objects.filter(source="review").values_list("task__public_id", "choice"))


def _no_native_submits(seen: list[tuple[str, str, str]]) -> None:
    assert [r for r in seen if "choice=" in r[1] or r[2] == "document"] == []


def test_keyboard_only_labels_pairwise_then_rating(transactional_db, live_server, page):
    profile("rev")
    pairwise = make_tasks(1, name="pw")[0]
    rating = make_tasks(1, name="rt", rating=True)[0]
    _start_reviewing(page, live_server, "rev")
    assert _task_id(page) == pairwise.public_id
    assert page.is_visible("text=Submit")
    page.keyboard.press("2")
    assert page.is_checked('#label-form input[name=choice][value="2"]')
    page.keyboard.press("r")
    page.keyboard.type("B is more accurate")
    page.keyboard.press("Escape")
    page.keyboard.press("f")
    page.keyboard.press("Enter")
    _wait_task(page, rating.public_id)
    assert page.url == f"{live_server.url}/review/"  # swapped in place, no navigation
    page.keyboard.press("1")
    page.keyboard.press("0")
    assert page.input_value("#rating-input") == "10"
    page.keyboard.press("-")
    page.keyboard.press("Enter")
    _wait_task(page, "")
    assert page.is_visible("text=No items are waiting for you")
    later = make_tasks(1, name="later")[0]
    page.keyboard.press("n")  # check again: a POST, swapped in place
    _wait_task(page, later.public_id)
    first = HumanLabel.objects.get(task_id=pairwise.pk)
    assert (first.choice, first.rationale, first.flags) == (2, "B is more accurate", ["unsafe"])
    second = HumanLabel.objects.get(task_id=rating.pk)
    assert (second.rating, second.choice) == (9.0, None)
    assert list(ReviewTask.objects.exclude(status="done").values_list("pk", "status")) == [(later.pk, "leased")]


def test_enter_without_choice_shows_error_and_keeps_item(transactional_db, live_server, page):
    profile("rev")
    task = make_tasks(1)[0]
    _start_reviewing(page, live_server, "rev")
    page.keyboard.press("Enter")
    page.wait_for_selector("#review-item .error")
    assert "Choose response 1, response 2 or tie." in page.inner_text("#review-item .error")
    assert _task_id(page) == task.public_id
    # The refused item is swapped in again: keys count once htmx has processed it (before that
    # they are ignored with a notice, by design), so wait for it as a reviewer would see it.
    _wait_task(page, task.public_id)
    page.keyboard.press("t")
    page.keyboard.press("Enter")
    _wait_task(page, "")
    assert HumanLabel.objects.get(task=task).choice == 0


def test_expired_lease_hands_item_to_another_reviewer(transactional_db, live_server, page, browser):
    profile("ann")
    profile("bob")
    task = make_tasks(1)[0]
    _start_reviewing(page, live_server, "ann")
    assert _task_id(page) == task.public_id
    ReviewTask.objects.filter(pk=task.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    other = browser.new_context().new_page()
    try:
        _start_reviewing(other, live_server, "bob")
        assert _task_id(other) == task.public_id
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
    _start_reviewing(page, live_server, "outsider")
    assert _task_id(page) == ""
    assert "Question 0?" not in page.content()
    response = page.goto(f"{live_server.url}/review/task/{task.public_id}/")
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
    _start_reviewing(page, live_server, "rev")
    _wait_task(page, tasks[0].public_id)
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#review-item script, #review-item img, #review-item iframe, #review-item svg").count() == 0
    assert page.locator('#review-item a[href^="javascript"]').count() == 0
    assert page.locator('#review-item a[href="https://example.org"]').count() == 3
    assert "<script>window.__pwned = 1</script>" in page.inner_text("#review-item .prompt-box")
    page.keyboard.press("1")
    page.keyboard.press("Enter")  # the second item arrives through an htmx swap
    _wait_task(page, tasks[1].public_id)
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#review-item script, #review-item img").count() == 0
    assert dialogs == []


def _slowed(fn, seconds: float):
    def slow(**kwargs):
        time.sleep(seconds)  # the server thinks long enough for every key of the burst to arrive
        return fn(**kwargs)

    return slow


def test_burst_while_next_item_loads_saves_one_label_and_says_the_rest_were_ignored(
    transactional_db, live_server, page, monkeypatch
):
    profile("rev")
    tasks = make_tasks(5)
    _start_reviewing(page, live_server, "rev")
    _wait_task(page, tasks[0].public_id)
    monkeypatch.setattr(views, "review_label_submit", _slowed(views.review_label_submit, 1.0))
    seen = _requests(page)
    page.keyboard.type("1\n2\n1\n2\n1\n", delay=0)
    assert page.get_attribute(".review-layout", "data-review-state") == "busy"
    assert page.inner_text("#review-wait") == "Wait: the next item is loading. Keys pressed now are ignored (8 so far)."
    _wait_task(page, tasks[1].public_id)
    assert _keys(page) == (2, 8)
    assert page.inner_text("#review-wait") == (
        "8 keys were ignored while the item was loading: check this item before you label it."
    )
    assert _stored() == _saved_in_ui(page) == [(tasks[0].public_id, 1)]
    submits = [(method, url) for method, url, _ in seen if "/submit/" in url]
    assert submits == [("POST", f"{live_server.url}/review/task/{tasks[0].public_id}/submit/")]
    _no_native_submits(seen)
    assert page.url == f"{live_server.url}/review/"


def test_keys_with_no_delay_across_five_items_lose_no_label(transactional_db, live_server, page):
    profile("rev")
    tasks = make_tasks(5)
    _start_reviewing(page, live_server, "rev")
    _wait_task(page, tasks[0].public_id)
    seen = _requests(page)
    page.keyboard.type("1\n2\n1\n2\n1\n", delay=0)
    _wait_task(page, None)
    applied, ignored = _keys(page)
    assert applied + ignored == 10  # each key acted on a ready item or was dropped with a notice
    saved = _saved_in_ui(page)
    assert (tasks[0].public_id, 1) in saved
    assert _stored() == saved
    for _ in range(5 - len(saved)):  # the rest, one burst per item once it is on screen
        page.keyboard.type("2\n", delay=0)
        _wait_task(page, None)
    _wait_task(page, "")
    assert _stored() == _saved_in_ui(page)
    assert [task for task, _ in _stored()] == sorted(t.public_id for t in tasks)
    _no_native_submits(seen)
    assert page.url == f"{live_server.url}/review/"


def test_keys_between_swap_and_htmx_processing_never_submit_natively(transactional_db, live_server, page):
    profile("rev")
    tasks = make_tasks(2)
    _start_reviewing(page, live_server, "rev")
    _wait_task(page, tasks[0].public_id)
    # Widen the gap between htmx swapping the next item in and processing it (a slow machine):
    # the new form has no htmx handler yet, so a submit now would be a native, full-page one.
    page.evaluate("htmx.config.defaultSettleDelay = 1500")
    seen = _requests(page)
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.wait_for_selector(f'#review-item[data-task-id="{tasks[1].public_id}"]')
    assert page.get_attribute(".review-layout", "data-review-state") == "busy"
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    page.click("#label-form button[type=submit]")
    _wait_task(page, tasks[1].public_id)
    assert _keys(page) == (2, 3)  # the click counts as an ignored submit
    assert _stored() == _saved_in_ui(page) == [(tasks[0].public_id, 1)]
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    _wait_task(page, "")
    assert _stored() == _saved_in_ui(page) == sorted([(tasks[0].public_id, 1), (tasks[1].public_id, 2)])
    _no_native_submits(seen)
    assert page.url == f"{live_server.url}/review/"
