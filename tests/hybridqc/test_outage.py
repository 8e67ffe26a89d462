"""A real database outage: PostgreSQL (a private cluster of the test's own) stopped under a
logged-in lead. Pages and APIs answer 503 with Retry-After, the page styled with the top bar and
the API in JSON, instead of a 500 with a traceback; once the server is back, both answer 200."""

from __future__ import annotations

from django.db import connection
from django.test import Client

from hybridqc.errors import DATABASE_UNAVAILABLE_MESSAGE
from tests import factories

PAGE, API = "/control/", "/api/control/batches/"


def test_outage_pages_and_apis_answer_503_then_200_when_the_database_is_back(private_postgres):
    factories.batch("outage-batch")
    client = Client()
    client.force_login(factories.lead())
    assert (client.get(PAGE).status_code, client.get(API).status_code) == (200, 200)
    private_postgres.stop_immediately()
    try:
        page, api = client.get(PAGE), client.get(API)
    finally:
        private_postgres.start()
        connection.close()  # this process's connection died with the server
    body = page.content.decode()
    assert (page.status_code, page["Retry-After"], page["Content-Type"]) == (503, "30", "text/html; charset=utf-8")
    assert 'data-status="503"' in body and "<h1>Database unavailable</h1>" in body
    assert DATABASE_UNAVAILABLE_MESSAGE in body and 'class="topbar"' in body
    assert (api.status_code, api["Retry-After"]) == (503, "30")
    assert api.json() == {"detail": DATABASE_UNAVAILABLE_MESSAGE, "code": "database_unavailable"}
    after_page, after_api = client.get(PAGE), client.get(API)
    assert (after_page.status_code, after_api.status_code) == (200, 200)
    assert "outage-batch" in after_page.content.decode()
    assert [b["batch"] for b in after_api.json()["results"]] == ["outage-batch"]
