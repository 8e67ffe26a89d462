"""A large upload in Chromium: the form swaps in a progress block that polls until the job is done."""

import pytest

from tests import factories
from tests.conftest import ROOT
from tests.support.browser import login


@pytest.mark.browser
def test_upload_in_browser_polls_the_background_job_to_done(live_server, celery_worker, lead_user, page, settings,
                                                           tmp_path):
    settings.IMPORT_BACKGROUND_BYTES = 0
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(factories.jsonl([factories.pairwise_item(i) for i in range(3)])) + "\n")
    login(page, live_server.url, lead_user.username)
    page.goto(f"{live_server.url}/control/")
    page.fill("#upload-form input[name=name]", "in-browser")
    page.set_input_files("#upload-form input[name=file]", str(path))
    page.click("text=Import and route")
    page.wait_for_selector('#upload .import-job[data-status="done"]', timeout=60_000)
    page.screenshot(path=str(ROOT / "var/upload-job.png"))
    text = page.inner_text("#upload .import-job")
    assert "Imported 3 examples (0 already present), 6 judgments and 3 human labels" in text
    assert page.url == f"{live_server.url}/control/"  # htmx swaps, no navigation
