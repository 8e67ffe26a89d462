"""The token page in Chromium: htmx shows a new token once, errors in place, revokes in place."""

import pytest

from dashboard.models import ApiToken
from tests import factories
from tests.support.browser import login


@pytest.mark.browser
def test_token_page_in_browser_creates_shows_once_and_revokes(live_server, transactional_db, page, settings):
    settings.API_TOKEN_MAX_DAYS = 30  # a limit only the server knows: its 422 is swapped in place
    user = factories.lead()
    login(page, live_server.url, user.username)
    page.goto(f"{live_server.url}/accounts/tokens/")
    page.fill("input[name=name]", "browser")
    page.fill("input[name=expires_in_days]", "31")
    page.click("text=Create token")
    page.wait_for_selector("text=expires_in_days: expires_in_days must be between 1 and 30.")
    assert ApiToken.objects.count() == 0
    page.fill("input[name=expires_in_days]", "3")
    page.click("text=Create token")
    secret = page.inner_text("#token-secret")
    assert secret.startswith("hqc_") and ApiToken.objects.get().name == "browser"
    assert page.url == f"{live_server.url}/accounts/tokens/"  # swapped by htmx, no navigation
    page.click("text=Revoke")
    page.wait_for_selector('span.badge:text("revoked")')
    assert page.locator("#token-secret").count() == 0
    assert ApiToken.objects.get().state() == "revoked"
