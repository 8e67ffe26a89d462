"""The main pages as each role in Chromium under the real CSP (no inline script or style): the
browser reports no violation. Every page gets a listener for `securitypolicyviolation` before
any of its own script runs, and Chromium's console errors about the policy are collected too."""

from __future__ import annotations

import pytest

from hybridqc.flows.batches import batch_route
from routing.ingest.models import ImportJob
from tests import factories
from tests.support.browser import login
from tests.support.figures import figures_write

pytestmark = [pytest.mark.browser]
LISTEN = """document.addEventListener("securitypolicyviolation", (e) => {
  (window.__csp = window.__csp || []).push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`);
});"""


class CspWatch:
    """One browser context: the CSP violations seen on every page it visits."""

    def __init__(self, browser) -> None:
        self.context = browser.new_context()
        self.context.add_init_script(LISTEN)
        self.page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        self.violations: list[str] = []
        self.page.on("console", self._console)

    def _console(self, message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.violations.append(f"console on {self.page.url}: {message.text[:300]}")

    def login(self, base: str, username: str) -> None:
        login(self.page, base, username)
        self.page.wait_for_load_state("networkidle")

    def visit(self, url: str) -> None:
        response = self.page.goto(url)
        assert response is not None and response.status == 200, f"{url}: {response and response.status}"
        self.page.wait_for_load_state("networkidle")
        seen = self.page.evaluate("() => window.__csp || []")
        self.violations += [f"{url}: {v}" for v in seen]


def _world() -> tuple[int, int]:
    batch = factories.batch("csp-b", items=[factories.pairwise_item(i) for i in range(12)]).batch
    batch_route(batch=batch)
    factories.reviewer("csp-rev", prefixes=["test"], capacity_per_day=100)
    factories.lead("csp-lead")
    factories.admin("csp-admin")
    job = ImportJob.objects.create(batch_name="csp-job", status="failed", error_count=1, size_bytes=10)
    return batch.pk, job.pk


def test_csp_main_pages_as_each_role_report_no_violation(transactional_db, live_server, browser):
    batch_id, job_id = _world()
    base = live_server.url
    pages = {
        None: ["/accounts/login/"],
        "csp-rev": ["/review/", "/review/me/", "/accounts/tokens/"],
        "csp-lead": ["/control/", f"/control/batch/{batch_id}/",
                     f"/control/imports/{job_id}/", "/control/trends/", "/routing/backtest/", "/routing/model/",
                     f"/routing/batch/{batch_id}/judge/", "/accounts/tokens/", "/api/docs/"],
        "csp-admin": ["/review/roster/", "/review/unstaffed/", "/control/", "/admin/"],
    }
    violations: list[str] = []
    visited = 0
    for username, paths in pages.items():
        watch = CspWatch(browser)
        if username:
            watch.login(base, username)
        for path in paths:
            watch.visit(base + path)
            visited += 1
        violations += watch.violations
        watch.context.close()
    figures_write("csp", {"csp_pages": visited, "csp_violations": len(violations)})
    assert visited == 17
    assert violations == []


def test_csp_watch_catches_an_inline_style_and_script(browser):
    """The control: the same watch reports a style attribute and an inline script the policy refuses."""
    watch = CspWatch(browser)
    html = '<p style="color:red">x</p><script>window.ran = 1</script>'
    watch.page.route("http://csp.test/", lambda route: route.fulfill(
        status=200, body=html, headers={"Content-Type": "text/html",
                                        "Content-Security-Policy": "script-src 'self'; style-src 'self'"}))
    watch.visit("http://csp.test/")
    watch.context.close()
    assert len([v for v in watch.violations if v.startswith("http://csp.test/: style-src")]) == 1
    assert len([v for v in watch.violations if v.startswith("http://csp.test/: script-src")]) == 1
    assert any(v.startswith("console on http://csp.test/") for v in watch.violations)
