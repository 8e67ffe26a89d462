"""The whole loop in a real browser: a reviewer labels two routed items by keyboard, then the
release lead's control center shows the work and the override rate it implies."""

import pytest

from hybridqc.flows.batches import batch_route
from reviewers.models import HumanLabel
from tests import factories
from tests.support.browser import login

pytestmark = pytest.mark.browser
UNSURE = [{"judge": "judge-x", "choice": 1}, {"judge": "judge-x", "choice": 1}, {"judge": "judge-x", "choice": 2}]
# review.js marks the page ready once htmx has swapped in and processed an item (keys pressed
# before that are ignored): wait for a ready item other than the one just labeled.
NEXT_READY = """([previous]) => {
  const layout = document.querySelector(".review-layout"), item = document.getElementById("review-item");
  return layout && item && layout.dataset.reviewState === "ready" && item.dataset.taskId !== previous;
}"""


def test_reviewer_labels_two_items_by_keyboard_and_control_center_shows_them(
    live_server, transactional_db, page, browser
):
    factories.reviewer("kb-rev", prefixes=["test"])
    factories.lead("kb-lead")
    batch = factories.batch("kb-batch", items=[factories.pairwise_item(i, judgments=UNSURE) for i in range(4)],
                            audit_rate=0.0, audit_min_per_domain=0).batch
    batch_route(batch=batch)

    login(page, live_server.url, "kb-rev")
    documents: list[str] = []
    page.on("request", lambda r: documents.append(r.url) if r.resource_type == "document" else None)
    page.goto(f"{live_server.url}/review/")
    item = page.locator("#review-item")
    page.wait_for_function(NEXT_READY, arg=[""])  # the page claims its first item by POST
    first = item.get_attribute("data-task-id")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.wait_for_function(NEXT_READY, arg=[first])
    second = item.get_attribute("data-task-id")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    page.wait_for_function(NEXT_READY, arg=[second])
    assert page.url == f"{live_server.url}/review/"  # no full page navigation
    assert documents == [f"{live_server.url}/review/"]  # the one goto: no native form submit
    labels = HumanLabel.objects.filter(source="review").values_list("task__public_id", "choice")
    assert sorted(labels) == sorted([(first, 1), (second, 2)])

    lead = browser.new_context().new_page()
    login(lead, live_server.url, "kb-lead")
    lead.goto(f"{live_server.url}/control/")
    row = lead.locator('tr[data-batch="kb-batch"]')
    assert row.locator("td.human-done").inner_text().startswith("2/")
    # both items had the judge's verdict 1 before routing; the reviewer chose 1 and 2
    assert row.locator("td.override").inner_text() == "0.500 (n=2)"
