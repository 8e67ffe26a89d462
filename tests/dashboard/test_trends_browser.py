"""The trends page in Chromium: Chart.js draws every series from the embedded JSON, a period
without a value stays a gap, hovering a point shows its values, and no script runs inline."""

import pytest

from tests import factories
from tests.dashboard.trend_batches import dated_batch
from tests.support.browser import login

pytestmark = pytest.mark.browser


def test_trends_page_draws_charts_with_gaps_and_hover_values(live_server, transactional_db, page):
    dated_batch("sep", "2026-09-14", kept=6, unsure=4, audit_labels=[1, 1, 1, 2], routed_labels=[2, 2, 1, 1])
    dated_batch("nov", "2026-11-30", kept=2, unsure=2, audit_labels=[1, 2], routed_labels=[1, 2],
                audit_probabilities=[0.5, 0.25])
    factories.lead("tr-lead")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, live_server.url, "tr-lead")
    page.goto(f"{live_server.url}/control/trends/")
    assert page.evaluate("document.querySelectorAll('script:not([src]):not([type=\"application/json\"])').length") == 0
    page.wait_for_function("() => [...document.querySelectorAll('canvas[data-chart]')].every(c => Chart.getChart(c))")
    quality = "Chart.getChart(document.querySelector('section[data-domain=\"\"] canvas[data-chart=quality]'))"
    series = page.evaluate(f"{quality}.data.datasets.map(d => [d.label, d.data])")
    # October has no batch: a null (a gap), never joined or zero-filled.
    assert dict(series)["audit agreement"] == [0.75, None, 1 / 3]
    assert page.evaluate(f"{quality}.data.labels") == ["2026-09", "2026-10", "2026-11"]
    point = page.evaluate(f"""(() => {{ const c = {quality}; c.canvas.scrollIntoView();
        const p = c.getDatasetMeta(2).data[0]; const r = c.canvas.getBoundingClientRect();
        return [r.left + p.x, r.top + p.y]; }})()""")
    page.mouse.move(*point)
    page.wait_for_function(f"() => {quality}.tooltip.getActiveElements().length > 0")
    lines = page.evaluate(f"{quality}.tooltip.body.flatMap(b => b.lines)")
    assert "audit agreement: 75.0%" in lines and "override rate: 50.0%" in lines
    assert errors == []


def test_control_center_drift_chart_is_drawn_by_batch_date_with_hover_values(live_server, transactional_db, page):
    # Imported in the other order than their dates: the chart orders them by date.
    dated_batch("nov", "2026-11-30", kept=2, unsure=2, audit_labels=[1, 2], routed_labels=[1, 2],
                audit_probabilities=[0.5, 0.25])
    dated_batch("sep", "2026-09-14", kept=6, unsure=4, audit_labels=[1, 1, 1, 2], routed_labels=[2, 2, 1, 1])
    dated_batch("oct", "2026-10-02", kept=5, unsure=0, audit_labels=[1, 1], routed_labels=[])
    factories.lead("dr-lead")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, live_server.url, "dr-lead")
    page.goto(f"{live_server.url}/control/")
    assert page.locator("svg.drift").count() == 0
    page.wait_for_function("() => Chart.getChart(document.querySelector('canvas[data-chart=drift]'))")
    chart = "Chart.getChart(document.querySelector('canvas[data-chart=drift]'))"
    series = dict(page.evaluate(f"{chart}.data.datasets.map(d => [d.label, d.data.map(p => [p.batch, p.y])])"))
    # October routed nothing: no override rate, a gap.
    assert series["audit agreement"] == [["sep", 0.75], ["oct", 1.0], ["nov", 1 / 3]]
    assert series["override rate"] == [["sep", 0.5], ["oct", None], ["nov", 0.5]]
    assert page.evaluate(f"{chart}.scales.x.type") == "linear"
    point = page.evaluate(f"""(() => {{ const c = {chart}; c.canvas.scrollIntoView();
        const p = c.getDatasetMeta(2).data[0]; const r = c.canvas.getBoundingClientRect();
        return [r.left + p.x, r.top + p.y]; }})()""")
    page.mouse.move(*point)
    page.wait_for_function(f"() => {chart}.tooltip.getActiveElements().length > 0")
    assert page.evaluate(f"{chart}.tooltip.title") == ["sep (2026-09-14)"]
    assert "audit agreement: 75.0%" in page.evaluate(f"{chart}.tooltip.body.flatMap(b => b.lines)")
    assert errors == []
