"""The OpenAPI 3 schema: valid, complete (every API URL pattern), and its docs page served locally."""

import re

import pytest
import yaml
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from openapi_spec_validator import validate

from tests import factories

# The schema and its docs page describe the API; they are not part of it.
NOT_API = {"/api/schema/", "/api/docs/"}


def _api_paths(patterns, prefix=""):
    for p in patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            yield from _api_paths(p.url_patterns, route)
        elif isinstance(p, URLPattern) and route.startswith("api/"):
            yield "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


@pytest.fixture
def schema(client, lead_user):
    client.force_login(lead_user)
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_api_schema_validates_as_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate(schema)


def test_api_schema_lists_every_api_url_pattern(schema):
    expected = set(_api_paths(get_resolver().url_patterns)) - NOT_API
    assert len(expected) == 15
    assert set(schema["paths"]) == expected
    assert sorted(schema["paths"]["/api/control/batches/{name}/export/"]["post"]["responses"]) == ["202", "404", "409"]


def test_api_schema_documents_the_gate_answers_and_token_auth(schema):
    gate = schema["paths"]["/api/control/batches/{name}/gate/"]["get"]
    assert sorted(gate["responses"]) == ["200", "404", "409"]
    assert schema["components"]["securitySchemes"]["apiToken"] == {
        "type": "http", "scheme": "bearer", "description": "A personal API token (hqc_…)."}
    assert "basicAuth" not in schema["components"]["securitySchemes"]


def test_api_schema_command_passes_strict_validation(db, tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert yaml.safe_load(out.read_text())["info"]["title"] == "HybridQC API"


def test_api_docs_page_serves_swagger_from_local_static_files(client, db):
    client.force_login(factories.lead())
    html = client.get("/api/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in a for a in assets)
    assert not [a for a in assets if a.startswith(("http://", "https://", "//"))]
    assert "<script>" not in html.replace(" ", "")


def test_api_schema_and_docs_refuse_anonymous_visitors(client, db):
    assert client.get("/api/schema/").status_code == 403
    assert client.get("/api/docs/").status_code == 403
