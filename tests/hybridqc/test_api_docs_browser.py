"""The API docs page in Chromium: Swagger UI renders every operation from local files only."""

from urllib.parse import urlsplit

import pytest

from tests import factories
from tests.support.browser import login


@pytest.mark.browser
def test_api_docs_page_renders_operations_without_outside_requests(live_server, transactional_db, page):
    hosts = set()
    page.on("request", lambda r: hosts.add(urlsplit(r.url).netloc))
    login(page, live_server.url, factories.lead().username)
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/control/batches/{name}/gate/" in [p.replace("\u200b", "") for p in paths]
    assert len(paths) == 19  # the operations of the 15 API URL patterns
    assert hosts == {urlsplit(live_server.url).netloc}
