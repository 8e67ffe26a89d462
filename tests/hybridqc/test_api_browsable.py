"""The browsable API keeps to the CSP (no inline <style>: DRF adds one for Pygments' code colours) and
offers no form that acts: the batch pages do, with their confirmation steps."""

from tests import factories


def test_browsable_api_page_has_no_inline_style(client, db):
    client.force_login(factories.lead())
    response = client.get("/api/tokens/", headers={"Accept": "text/html"})
    page = response.content.decode()
    assert response.status_code == 200 and response["Content-Type"] == "text/html; charset=utf-8"
    assert '<link rel="stylesheet" type="text/css" href="/static/rest_framework/css/default.css"/>' in page
    assert "<style>" not in page
    assert client.get("/api/tokens/", headers={"Accept": "application/json"})["Content-Type"] == "application/json"


def test_browsable_api_offers_no_form_that_acts(client, db):
    batch = factories.batch("browsable").batch
    client.force_login(factories.lead())
    for url in ("/api/tokens/", "/api/control/batches/", f"/api/routing/batches/{batch.pk}/judge-runs/"):
        page = client.get(url, headers={"Accept": "text/html"}).content.decode()
        assert 'class="content-main"' in page, url  # the browsable page itself
        assert 'method="POST"' not in page and 'data-method="DELETE"' not in page, url
