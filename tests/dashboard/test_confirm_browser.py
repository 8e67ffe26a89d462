"""In Chromium: "Retrain now" and "Send <domain> to humans always" wait for their confirmation.
The first click shows the step in place and changes nothing; accepting it makes the change."""

from __future__ import annotations

import pytest

from hybridqc.flows.batches import batch_route
from routing.batches.models import Domain
from routing.monitoring.models import Alarm
from routing.training.models import RetrainJob
from tests import factories
from tests.support.browser import login

pytestmark = pytest.mark.browser

TIED = [{"judge": "judge-x", "order": "ab", "choice": 1}, {"judge": "judge-x", "order": "ba", "choice": 2}]


def _routed_batch() -> None:
    """4 items the judge keeps and 2 tied ones routed to humans, all in test/general."""
    items = [factories.pairwise_item(i) for i in range(4)] + [factories.pairwise_item(i, judgments=TIED)
                                                              for i in range(4, 6)]
    batch = factories.batch("c-batch", items=items, routing_mode="threshold", audit_rate=0.0,
                            audit_min_per_domain=0).batch
    batch_route(batch=batch)


def test_browser_retrain_waits_for_the_confirmation(live_server, transactional_db, page):
    factories.lead("c-lead")
    _routed_batch()
    login(page, live_server.url, "c-lead")
    page.goto(f"{live_server.url}/routing/model/")
    page.click("#retrain-status button:text('Retrain now')")
    step = page.wait_for_selector('[data-confirm-step="router-retrain"]')
    assert step.query_selector("[data-confirm-accept]").inner_text() == "Confirm: retrain now"
    assert not RetrainJob.objects.exists()  # nothing queued before the confirmation
    page.click("[data-confirm-accept]")
    page.wait_for_selector('[data-confirm-step="router-retrain"]', state="detached")
    page.wait_for_selector("#retrain-status[data-retrain-status]")
    assert page.url == f"{live_server.url}/routing/model/"
    assert RetrainJob.objects.count() == 1


def test_browser_always_human_waits_for_the_confirmation(live_server, transactional_db, page):
    factories.lead("c-lead")
    _routed_batch()
    alarm = Alarm.objects.create(kind=Alarm.Kind.AGREEMENT_DRIFT, domain="test", period="2026-11", p_value=0.01,
                                 effect=-0.2, message="agreement fell")
    login(page, live_server.url, "c-lead")
    page.goto(f"{live_server.url}/control/trends/")
    page.click(f"#alarm-{alarm.pk} button:text('Send test to humans always')")
    step = page.wait_for_selector('[data-confirm-step="domain-always-human"]')
    # test/general: 4 judge-kept items would go to humans, 2 + 4 = 6 routed.
    assert step.query_selector('[data-figure="routed_to_human"]').get_attribute("data-after") == "6"
    assert not Domain.objects.get(path="test/general").always_human  # nothing changed before the confirmation
    assert Alarm.objects.get(pk=alarm.pk).status == Alarm.Status.OPEN
    page.click("[data-confirm-accept]")
    page.wait_for_selector('[data-confirm-step="domain-always-human"]', state="detached")
    assert page.query_selector("header.topbar nav") is not None  # swapped in place, the page kept
    assert Domain.objects.get(path="test/general").always_human
    assert Alarm.objects.get(pk=alarm.pk).status == Alarm.Status.ALWAYS_HUMAN
