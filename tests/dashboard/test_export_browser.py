"""A lineage export in Chromium: the start button swaps in a progress bar (the button disabled
while the job runs) that polls until the worker is done, then a download link."""

import pytest

from dashboard.models import ExportJob
from tests.conftest import ROOT
from tests.dashboard.test_export import released  # noqa: F401 - the fixture: 8 examples, one tie
from tests.support.browser import login


@pytest.mark.browser
def test_export_in_browser_shows_progress_then_the_download(live_server, celery_worker, released, lead_user,  # noqa: F811
                                                            page):
    login(page, live_server.url, lead_user.username)
    page.goto(f"{live_server.url}/control/batch/{released.pk}/")
    page.select_option("#export-card select[name=fmt]", "preference")
    page.click("#export-card button:has-text('Start the export')")
    # The card the start answers with is the queued job's: its bar, and the button disabled.
    page.wait_for_selector("#export-card progress", timeout=30_000)
    page.wait_for_selector("#export-card button[disabled]:has-text('Exporting')", timeout=30_000)
    page.wait_for_selector('#export-card[data-status="done"] a.export-download', timeout=60_000)
    page.screenshot(path=str(ROOT / "var/export-job.png"))
    job = ExportJob.objects.get()
    assert (job.status, job.rows_done, job.rows_total) == ("done", 8, 8)
    assert page.inner_text("#export-card a.export-download") == "Download (7 rows; left out: ties 1)"
    assert page.get_attribute("#export-card progress", "value") == "100"
    assert page.is_enabled("#export-card button:has-text('Start the export')")
    assert page.url == f"{live_server.url}/control/batch/{released.pk}/"  # htmx swaps, no navigation
    with page.expect_download() as download:
        page.click("#export-card a.export-download")
    assert download.value.suggested_filename == "exp-lineage.preference.jsonl"
