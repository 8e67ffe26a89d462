"""The control center's filters in a real browser: htmx swaps only the batch table, the state
lands in the address bar, and the next-page link keeps the filter."""

import pytest

from tests import factories
from tests.support.browser import login

pytestmark = pytest.mark.browser


def test_control_center_filter_swaps_table_and_pushes_state_to_url(live_server, transactional_db, page):
    factories.lead("f-lead")
    for i in range(30):
        factories.batch(f"alpha-{i:02d}" if i % 2 else f"beta-{i:02d}", items=[factories.pairwise_item(0)])
    login(page, live_server.url, "f-lead")
    page.goto(f"{live_server.url}/control/")
    documents: list[str] = []
    page.on("request", lambda r: documents.append(r.url) if r.resource_type == "document" else None)
    page.fill("#batch-filters input[name=q]", "alpha")
    page.select_option("#batch-filters select[name=ordering]", "name")
    page.click("#batch-filters button[type=submit]")
    page.wait_for_url("**/control/?q=alpha*")
    rows = page.locator("tr[data-batch]")
    page.wait_for_function("() => document.querySelectorAll('tr[data-batch]').length === 15")
    assert rows.first.get_attribute("data-batch") == "alpha-01"
    assert documents == []  # an htmx swap, not a navigation
    assert "ordering=name" in page.url


def test_control_center_bad_filter_is_named_in_place(live_server, transactional_db, page):
    factories.lead("f-lead")
    factories.batch("alpha-00", items=[factories.pairwise_item(0)])
    login(page, live_server.url, "f-lead")
    page.goto(f"{live_server.url}/control/")
    documents: list[str] = []
    page.on("request", lambda r: documents.append(r.url) if r.resource_type == "document" else None)
    page.fill("#batch-filters input[name=created_after]", "last spring")
    page.click("#batch-filters button[type=submit]")
    error = page.locator("#batches .error[role=alert]")
    error.wait_for()
    assert error.inner_text() == "Filters not applied: created: Enter a valid date."
    assert page.locator("tr[data-batch]").count() == 0
    assert documents == []
    assert page.locator("h1").inner_text() == "Control center"
