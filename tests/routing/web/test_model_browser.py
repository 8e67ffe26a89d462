"""The model page in Chromium: Chart.js draws the reliability diagram from the embedded bins
(predicted against observed, a dashed diagonal, axes 0..1 by 0.1), each point labelled and
its tooltip giving the bin's count; no script runs inline, and the table keeps the figures."""

import pytest

from tests import factories
from tests.support.browser import login

pytestmark = pytest.mark.browser
CHART = "Chart.getChart(document.querySelector('canvas[data-chart=reliability]'))"


def test_model_page_draws_the_reliability_diagram_with_counts(live_server, transactional_db, page):
    model = factories.router_trained()
    bins = model.metrics["reliability"]
    factories.lead("rel-lead")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, live_server.url, "rel-lead")
    page.goto(f"{live_server.url}/routing/model/")
    assert page.evaluate("document.querySelectorAll('script:not([src]):not([type=\"application/json\"])').length") == 0
    assert page.locator("svg.reliability").count() == 0
    page.wait_for_function(f"() => {CHART}")
    points = page.evaluate(f"{CHART}.data.datasets[0].data.map(p => [p.x, p.y, p.n])")
    assert points == [[b["predicted"], b["observed"], b["n"]] for b in bins]
    diagonal = page.evaluate(f"{CHART}.data.datasets[1]")
    assert (diagonal["label"], diagonal["data"], diagonal["borderDash"]) == (
        "perfect calibration", [{"x": 0, "y": 0}, {"x": 1, "y": 1}], [4, 3])
    # The counts are drawn beside the points by the page's own plugin (the tooltip says them too).
    assert "reliabilityCounts" in page.evaluate(f"{CHART}.config.plugins.map(p => p.id)")
    for axis in ("x", "y"):
        ticks = page.evaluate(f"{CHART}.scales.{axis}.ticks.map(t => t.label)")
        assert ticks == ["0.0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "1.0"]
    biggest = max(range(len(bins)), key=lambda i: bins[i]["n"])
    point = page.evaluate(f"""(() => {{ const c = {CHART}; c.canvas.scrollIntoView();
        const p = c.getDatasetMeta(0).data[{biggest}]; const r = c.canvas.getBoundingClientRect();
        return [r.left + p.x, r.top + p.y]; }})()""")
    page.mouse.move(*point)
    page.wait_for_function(f"() => {CHART}.tooltip.getActiveElements().length > 0")
    lines = page.evaluate(f"{CHART}.tooltip.body.flatMap(b => b.lines)")
    b = bins[biggest]
    assert f"predicted {b['predicted']:.2f}, observed {b['observed']:.2f}, n={b['n']}" in lines
    rows = page.locator("table.reliability-bins tbody tr")
    assert rows.count() == len(bins)
    assert rows.nth(biggest).inner_text().split("\t")[-1] == str(b["n"])
    assert errors == []
