"""The token page (htmx, and plain forms without JavaScript): create, show once, list, revoke."""

import re

from django.contrib.auth.models import User

from dashboard.models import ApiToken
from dashboard.tokens import api_token_create

HX = {"HTTP_HX_REQUEST": "true"}


def _secret(html):
    match = re.search(r'id="token-secret">(hqc_[^<]+)<', html)
    return match.group(1) if match else None


def test_token_page_create_shows_the_token_once(client, reviewer_user):
    client.force_login(reviewer_user)
    response = client.post("/accounts/tokens/", {"name": "my script", "expires_in_days": 10}, **HX)
    assert response.status_code == 201
    secret = _secret(response.content.decode())
    assert secret is not None and ApiToken.objects.get().name == "my script"
    again = client.get("/accounts/tokens/").content.decode()
    assert _secret(again) is None and secret not in again and "my script" in again
    token = ApiToken.objects.get()
    revoked = client.post(f"/accounts/tokens/{token.pk}/revoke/", **HX)
    assert revoked.status_code == 200 and '<span class="badge">revoked</span>' in revoked.content.decode()
    assert "<!doctype html>" not in revoked.content.decode()


def test_token_page_works_without_javascript(client, lead_user):
    client.force_login(lead_user)
    response = client.post("/accounts/tokens/", {"name": "plain", "expires_in_days": 5})
    assert response.status_code == 201
    assert "<!doctype html>" in response.content.decode() and _secret(response.content.decode())
    token = ApiToken.objects.get()
    revoke = client.post(f"/accounts/tokens/{token.pk}/revoke/")
    assert (revoke.status_code, revoke["Location"]) == (302, "/accounts/tokens/")
    token.refresh_from_db()
    assert token.state() == "revoked"


def test_token_page_bad_input_is_422_in_place_and_writes_nothing(client, lead_user, settings):
    settings.API_TOKEN_MAX_DAYS = 30
    client.force_login(lead_user)
    response = client.post("/accounts/tokens/", {"name": "", "expires_in_days": 5}, **HX)
    assert response.status_code == 422 and 'id="tokens"' in response.content.decode()
    assert "name: This field is required." in response.content.decode()
    too_long = client.post("/accounts/tokens/", {"name": "x", "expires_in_days": 31}, **HX)
    assert too_long.status_code == 422
    assert "expires_in_days: expires_in_days must be between 1 and 30." in too_long.content.decode()
    assert ApiToken.objects.count() == 0


def test_token_page_lists_only_own_tokens_and_escapes_names(client, lead_user, reviewer_user):
    api_token_create(user=lead_user, name="<script>alert(1)</script>", expires_in_days=1)
    api_token_create(user=reviewer_user, name="reviewer-only", expires_in_days=1)
    client.force_login(lead_user)
    html = client.get("/accounts/tokens/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert "reviewer-only" not in html


def test_token_page_revoke_of_someone_elses_token_is_404(client, lead_user, reviewer_user):
    other = api_token_create(user=reviewer_user, name="theirs", expires_in_days=1)
    client.force_login(lead_user)
    assert client.post(f"/accounts/tokens/{other.token.pk}/revoke/", **HX).status_code == 404
    other.token.refresh_from_db()
    assert other.token.state() == "active"


def test_token_page_refuses_accounts_without_a_role(client, db):
    client.force_login(User.objects.create_user("nobody", password="x"))
    assert client.get("/accounts/tokens/").status_code == 403
