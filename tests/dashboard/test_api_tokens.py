"""Personal API tokens: hashed at rest, shown once, revocable, acting with their user's role."""

import base64
import hashlib
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from dashboard.models import ApiToken
from dashboard.tokens import api_token_create
from tests import factories


def _bearer(secret, keyword="Bearer"):
    return {"HTTP_AUTHORIZATION": f"{keyword} {secret}"}


@pytest.fixture
def lead_token(lead_user):
    return api_token_create(user=lead_user, name="pipeline", expires_in_days=30)


def test_api_token_create_stores_only_the_hash(lead_token):
    row = ApiToken.objects.get()
    assert lead_token.secret.startswith(f"hqc_{row.prefix}_")
    assert row.token_hash == hashlib.sha256(lead_token.secret.encode()).hexdigest()
    stored = [str(v) for v in ApiToken.objects.values().get().values()]
    assert not any(lead_token.secret in v for v in stored)


@pytest.mark.parametrize("keyword", ["Bearer", "Token", "bearer"])
def test_api_token_authenticates_as_its_user(db, lead_token, keyword):
    response = Client().get("/api/control/batches/", **_bearer(lead_token.secret, keyword))
    assert (response.status_code, response.json()["results"]) == (200, [])
    assert ApiToken.objects.get().last_used_at is not None


def test_api_token_keeps_the_users_role(db, reviewer_user):
    new = api_token_create(user=reviewer_user, name="r", expires_in_days=1)
    assert Client().get("/api/control/batches/", **_bearer(new.secret)).status_code == 403
    assert Client().post("/api/review/next/", **_bearer(new.secret)).status_code == 204


@pytest.mark.parametrize(
    ("spoil", "detail"),
    [
        (lambda t: ApiToken.objects.update(revoked_at=timezone.now()), "Token revoked."),
        (lambda t: ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1)), "Token expired."),
        (lambda t: t.token.user.__class__.objects.update(is_active=False), "User inactive or deleted."),
    ],
    ids=["revoked", "expired", "inactive-user"],
)
def test_api_token_refused_when_revoked_expired_or_user_inactive(db, lead_token, spoil, detail):
    spoil(lead_token)
    response = Client().get("/api/control/batches/", **_bearer(lead_token.secret))
    assert (response.status_code, response.json()) == (403, {"detail": detail})


@pytest.mark.parametrize("presented", ["hqc_000000000000_nope", "garbage", "a b"])
def test_api_token_unknown_or_malformed_is_refused(db, lead_token, presented):
    response = Client().get("/api/control/batches/", HTTP_AUTHORIZATION=f"Bearer {presented}")
    assert response.status_code == 403
    assert response.json()["detail"] in ("Invalid token.", "Invalid Authorization header: expected 'Bearer <token>'.")


def test_api_basic_auth_is_off(db, lead_user):
    basic = base64.b64encode(f"lead:{factories.PASSWORD}".encode()).decode()
    assert Client().get("/api/control/batches/", HTTP_AUTHORIZATION=f"Basic {basic}").status_code == 403


def test_api_tokens_endpoint_creates_once_lists_and_revokes(client, lead_user):
    client.force_login(lead_user)
    created = client.post("/api/tokens/", {"name": "ci", "expires_in_days": 7}, content_type="application/json")
    assert created.status_code == 201
    body = created.json()
    assert body["state"] == "active" and body["token"].startswith("hqc_")
    listed = client.get("/api/tokens/").json()
    assert [t["name"] for t in listed] == ["ci"] and "token" not in listed[0]
    assert Client().get("/api/tokens/", **_bearer(body["token"])).status_code == 200
    revoked = client.delete(f"/api/tokens/{body['id']}/")
    assert (revoked.status_code, revoked.json()["state"]) == (200, "revoked")
    assert Client().get("/api/tokens/", **_bearer(body["token"])).status_code == 403


def test_api_tokens_endpoint_refuses_minting_with_a_token(db, lead_token):
    response = Client().post("/api/tokens/", {"name": "x"}, content_type="application/json",
                             **_bearer(lead_token.secret))
    assert response.status_code == 403
    assert ApiToken.objects.count() == 1


def test_api_tokens_endpoint_bad_expiry_is_400_naming_the_field(client, lead_user, settings):
    settings.API_TOKEN_MAX_DAYS = 30
    client.force_login(lead_user)
    response = client.post("/api/tokens/", {"name": "x", "expires_in_days": 31}, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"expires_in_days": ["expires_in_days must be between 1 and 30."]}
    assert ApiToken.objects.count() == 0


def test_api_tokens_revoke_of_someone_elses_token_is_404(client, lead_token, reviewer_user):
    client.force_login(reviewer_user)
    assert client.delete(f"/api/tokens/{lead_token.token.pk}/").status_code == 404
    assert ApiToken.objects.get().revoked_at is None
