"""Error pages keep the navigation and say why; the favicon resolves."""

import pytest
from django.test import Client

from tests import factories


@pytest.mark.django_db
def test_error_page_403_keeps_navigation_and_names_the_user():
    user = factories.reviewer()
    client = Client()
    client.force_login(user)
    response = client.get("/control/")
    body = response.content.decode()
    assert response.status_code == 403
    assert 'data-status="403"' in body
    assert f"signed in as {user.get_username()}" in body
    assert 'class="topbar"' in body and 'href="/review/"' in body


@pytest.mark.django_db
def test_error_page_404_is_styled(client):
    response = client.get("/no-such-page/")
    body = response.content.decode()
    assert response.status_code == 404
    assert 'data-status="404"' in body and "<h1>Not found</h1>" in body
    assert 'href="/static/css/app.css"' in body


@pytest.mark.django_db
def test_favicon_redirects_to_the_static_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("favicon.svg")


@pytest.mark.django_db
def test_error_page_405_of_an_action_is_styled_and_keeps_allow(client):
    client.force_login(factories.reviewer())
    response = client.get("/review/task/no-such-item/skip/")
    body = response.content.decode()
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert 'data-status="405"' in body and "<h1>An action, not a page</h1>" in body
    assert "what a button sends (POST)" in body
    assert 'class="topbar"' in body and 'href="/static/css/app.css"' in body


@pytest.mark.django_db
def test_error_page_405_under_the_api_stays_json(client):
    client.force_login(factories.lead())
    response = client.delete("/api/control/batches/")
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
