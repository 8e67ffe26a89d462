"""The item search and the item page in a real browser: the filters' state lives in the URL
(reload and the next page keep it), a response keeps its line breaks, and the batch table's
example ids open the item page."""

import pytest

from hybridqc.flows.batches import batch_route
from tests import factories
from tests.support.browser import login

pytestmark = pytest.mark.browser

UNSURE = [{"judge": "judge-x", "choice": 1}, {"judge": "judge-x", "choice": 1}, {"judge": "judge-x", "choice": 2}]
HAIKU = "An old silent pond\nA frog jumps into the pond\nSplash! Silence again."


def _batch(n):
    items = [factories.pairwise_item(i, judgments=UNSURE, domain="test/a" if i % 3 else "test/b",
                                     responses=[HAIKU, "Pond."]) for i in range(n)]
    batch = factories.batch("items-b", items=items, audit_rate=0.0, audit_min_per_domain=0).batch
    batch_route(batch=batch)
    return batch


def test_item_search_keeps_its_filters_in_the_url_across_reload_and_pages(live_server, transactional_db, page):
    _batch(160)  # 106 of domain test/a: three pages of 50
    login(page, live_server.url, factories.lead("i-lead").username)
    page.goto(f"{live_server.url}/control/items/")
    page.fill("#item-filters input[name=domain]", "test/a")
    page.select_option("#item-filters select[name=route]", "human")
    page.click("#item-filters button[type=submit]")
    page.wait_for_url("**/control/items/?*domain=test%2Fa*")
    assert "route=human" in page.url
    page.wait_for_function("() => document.querySelectorAll('tr[data-example]').length === 50")
    page.reload()
    assert page.input_value("#item-filters input[name=domain]") == "test/a"
    assert page.input_value("#item-filters select[name=route]") == "human"
    assert page.locator("tr[data-example]").first.get_attribute("data-example") == "item-1"
    page.click("#items li.next a")
    page.wait_for_url("**page=2*")
    assert "domain=test%2Fa" in page.url and "route=human" in page.url
    assert page.input_value("#item-filters input[name=domain]") == "test/a"
    ids = page.locator("tr[data-example]").evaluate_all("rows => rows.map(r => r.dataset.example)")
    assert len(ids) == 50 and all(int(i.split("-")[1]) % 3 for i in ids)


def test_batch_table_link_opens_the_item_page_with_line_breaks(live_server, transactional_db, page):
    batch = _batch(3)
    login(page, live_server.url, factories.lead("i-lead").username)
    page.goto(f"{live_server.url}/control/batch/{batch.pk}/")
    page.click("#decisions tr[data-example='item-1'] a")
    page.wait_for_url("**/control/item/*/")
    assert page.locator("h1 code").inner_text() == "item-1"
    text = page.locator("[data-response='1'] .markdown").inner_text()
    assert text.strip().split("\n") == HAIKU.split("\n")


def test_batch_table_sorts_and_pages_in_place_with_the_state_in_the_url(live_server, transactional_db, page):
    batch = _batch(120)  # three pages of 50; 80 in domain test/a
    login(page, live_server.url, factories.lead("i-lead").username)
    page.goto(f"{live_server.url}/control/batch/{batch.pk}/")
    page.evaluate("() => { window.notReloaded = true; }")  # gone if the page were loaded again
    page.click("#decisions th a:text('Example')")
    page.wait_for_url("**ordering=line")
    page.click("#decisions th a:text('Example')")  # sorted by line now: the header turns it around
    page.wait_for_url("**ordering=-line")
    page.wait_for_function("() => document.querySelector('#decisions tr[data-example]').dataset.example === 'item-119'")
    page.fill("#decision-filters input[name=domain]", "test/a")
    page.click("#decision-filters button[type=submit]")
    page.wait_for_url("**domain=test%2Fa*")
    page.click("#decisions li.next a")
    page.wait_for_url("**page=2*")
    assert "ordering=-line" in page.url and "domain=test%2Fa" in page.url
    ids = page.locator("#decisions tr[data-example]").evaluate_all("rows => rows.map(r => r.dataset.example)")
    expected = [f"item-{i}" for i in range(119, -1, -1) if i % 3][50:]
    assert ids == expected
    assert page.evaluate("() => window.notReloaded") is True
    page.reload()
    assert page.input_value("#decision-filters input[name=domain]") == "test/a"
    rows = page.locator("#decisions tr[data-example]")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.example)") == expected


def test_item_search_batch_box_suggests_batches_and_names_an_unknown_one_in_place(live_server, transactional_db,
                                                                                 page):
    kept = _batch(4)
    other = factories.batch("items-other", items=[factories.pairwise_item(i, id=f"other-{i}") for i in range(3)],
                            audit_rate=0.0, audit_min_per_domain=0).batch
    batch_route(batch=other)
    login(page, live_server.url, factories.lead("i-lead").username)
    page.goto(f"{live_server.url}/control/items/")
    options = page.locator("#item-filters datalist#batch-options option")
    assert options.evaluate_all("os => os.map(o => [o.value, o.textContent])") == [
        [str(kept.pk), "items-b"], [str(other.pk), "items-other"]]
    assert page.get_attribute("#item-filters input[name=batch]", "list") == "batch-options"
    page.evaluate("() => { window.notReloaded = true; }")  # gone if the page were loaded again
    page.fill("#item-filters input[name=batch]", str(other.pk))
    page.click("#item-filters button[type=submit]")
    page.wait_for_url(f"**/control/items/?*batch={other.pk}*")
    page.wait_for_function("() => document.querySelectorAll('tr[data-example]').length === 3")
    rows = page.locator("tr[data-example]").evaluate_all("rows => rows.map(r => r.dataset.example)")
    assert rows == ["other-0", "other-1", "other-2"]
    page.fill("#item-filters input[name=batch]", "999999")
    page.click("#item-filters button[type=submit]")
    error = page.locator("#items .error[role=alert]")
    error.wait_for()
    assert error.inner_text().startswith("Filters not applied: batch: Select a valid choice.")
    assert page.locator("tr[data-example]").count() == 0
    assert "batch=999999" in page.url
    assert page.locator("h1").inner_text() == "Items across batches"  # the page and its navigation stay
    assert page.evaluate("() => window.notReloaded") is True


def test_batch_table_bad_filter_is_named_in_place(live_server, transactional_db, page):
    batch = _batch(3)
    login(page, live_server.url, factories.lead("i-lead").username)
    page.goto(f"{live_server.url}/control/batch/{batch.pk}/")
    page.evaluate("() => { window.notReloaded = true; }")
    page.fill("#decision-filters input[name=confidence_min]", "lots")
    page.click("#decision-filters button[type=submit]")
    error = page.locator("#decisions .error[role=alert]")
    error.wait_for()
    assert error.inner_text() == "Filters not applied: confidence: Enter a number."
    assert page.locator("#decisions tr[data-example]").count() == 0
    assert page.locator("h1").count() == 1 and page.evaluate("() => window.notReloaded") is True
