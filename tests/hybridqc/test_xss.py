"""XSS payloads in prompts, responses, rationales, domain and batch names, imported through the
real import service, routed to a reviewer and rendered in Chromium on every page that shows them.
Every payload would set window.__xss (or open a dialog) if it ran."""

from __future__ import annotations

import json

import pytest

from hybridqc.flows.batches import batch_route
from reviewers.models import HumanLabel, ReviewTask
from reviewers.services import review_label_submit, review_task_claim
from routing.batches.models import Batch, Domain
from routing.ingest.import_v1 import batch_import
from tests import factories
from tests.support.browser import login
from tests.support.figures import figures_write

pytestmark = [pytest.mark.browser]
RUN = "window.__xss=1"
VECTORS = [
    f"<script>{RUN}</script>",
    f"<img src=x onerror=\"{RUN}\">",
    f"<svg onload={RUN}>",
    f"<body onload={RUN}>",
    "<iframe srcdoc=\"<script>parent.__xss=1</script>\"></iframe>",
    f"<details open ontoggle={RUN}>",
    f"<a href=\"javascript:{RUN}\" id=xss-link>x</a>",
    f"[click](javascript:{RUN})",
    f"![x](x\" onerror=\"{RUN})",
    f"<div hx-get=\"/\" hx-trigger=\"load\" hx-on::load=\"{RUN}\">x</div>",
    f"<div hx-on:htmx:load=\"{RUN}\">x</div>",
    f"<input autofocus onfocus={RUN}>",
    f"<video><source onerror=\"{RUN}\"></video>",
    f"<object data=\"javascript:{RUN}\"></object>",
    f"<math><mtext><table><mglyph><style><img src=x onerror=\"{RUN}\">",
    f"<style>@import 'javascript:{RUN}';</style>",
    f"<meta http-equiv=\"refresh\" content=\"0;url=javascript:{RUN}\">",
    f"`<img src=x onerror={RUN}>`",
    f"<scr<script>ipt>{RUN}</scr</script>ipt>",
    f"&lt;img src=x onerror={RUN}&gt;",
    "<img src=x onerror=alert(1)>",
    f"<form><button formaction=\"javascript:{RUN}\">go</button></form>",
]
BREAKOUTS = ["", "\">", "'>", "</textarea>", "</code>"]
PAYLOADS = list(dict.fromkeys(prefix + v for v in VECTORS for prefix in BREAKOUTS))[:60]
CHECK = "() => ({xss: window.__xss || 0})"


def _item(k: int, payload: str) -> dict:
    rationale = payload
    return {"id": f"xss-{k}", "task": "pairwise", "domain": f"xss/{k}-{payload[:60]}", "prompt": payload,
            "responses": [payload, payload + " (2)"],
            "judgments": [{"judge": "judge-x", "order": "ab", "choice": 1, "rationale": rationale},
                          {"judge": "judge-x", "order": "ba", "choice": 1, "rationale": rationale}],
            "human_labels": [{"annotator": "ann-1", "choice": 1, "rationale": rationale}]}


def _world() -> list[Batch]:
    batches = []
    for k, payload in enumerate(PAYLOADS):
        name = f"{payload[:150]} #{k}"
        batches.append(batch_import(batch_name=name, lines=[json.dumps(_item(k, payload))]).batch)
    Domain.objects.filter(path__startswith="xss/").update(always_human=True)
    for batch in batches:
        batch_route(batch=batch)
    return batches


class Watch:
    """Dialogs and window.__xss on every page visited."""

    def __init__(self, page) -> None:
        self.page, self.executions, self.pages = page, [], 0
        page.on("dialog", lambda d: (self.executions.append(f"dialog {d.message!r} on {page.url}"), d.dismiss()))

    def visit(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_load_state("networkidle")
        self.pages += 1
        if self.page.evaluate(CHECK)["xss"]:
            self.executions.append(f"window.__xss set on {url}")


def test_xss_payloads_never_execute(transactional_db, live_server, browser):
    factories.reviewer("xss-rev", prefixes=["xss"], capacity_per_day=1000)
    factories.lead("xss-lead")
    factories.admin("xss-admin")
    batches = _world()
    lead = Watch(browser.new_context().new_page())
    login(lead.page, live_server.url, "xss-lead")
    lead.visit(f"{live_server.url}/control/")
    lead.visit(f"{live_server.url}/routing/backtest/")
    for batch in batches:
        lead.visit(f"{live_server.url}/control/batch/{batch.pk}/")
    admin = Watch(browser.new_context().new_page())
    login(admin.page, live_server.url, "xss-admin")
    admin.visit(f"{live_server.url}/review/unstaffed/")
    admin.visit(f"{live_server.url}/review/roster/")
    reviewer = Watch(browser.new_context().new_page())
    login(reviewer.page, live_server.url, "xss-rev")
    profile = factories.User.objects.get(username="xss-rev").reviewer
    shown = 0
    while (task := review_task_claim(reviewer=profile)) is not None and shown < len(PAYLOADS) * 2:
        reviewer.visit(f"{live_server.url}/review/")
        assert reviewer.page.get_attribute("#review-item", "data-task-id") == task.public_id
        shown += 1
        review_label_submit(task=task, reviewer=profile, choice=1, rationale=task.example.prompt)
    reviewer.visit(f"{live_server.url}/review/me/")
    executions = lead.executions + admin.executions + reviewer.executions
    figures_write("xss", {"xss_payloads": len(PAYLOADS), "xss_pages": lead.pages + admin.pages + reviewer.pages,
                          "xss_review_items_shown": shown, "xss_executions": len(executions)})
    assert len(PAYLOADS) >= 50
    assert shown >= len(PAYLOADS)
    assert HumanLabel.objects.filter(source="review").count() == shown
    assert ReviewTask.objects.filter(status="leased").count() == 0
    assert executions == []


def test_xss_watch_detects_a_payload_that_runs(browser):
    """The control: the same check catches a payload rendered unescaped (no CSP on a blank page)."""
    page = browser.new_context().new_page()
    watch = Watch(page)
    page.set_content(f"<img src=x onerror=\"{RUN}\"><img src=x onerror=\"alert(1)\">")
    page.wait_for_function("() => window.__xss === 1")
    assert page.evaluate(CHECK) == {"xss": 1}
    assert watch.executions == ["dialog '1' on about:blank"]
