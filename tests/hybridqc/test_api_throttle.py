"""API throttling: rates from settings, counted in the shared cache; the N+1-th request is 429."""

import pytest
from django.test import Client

from dashboard.tokens import api_token_create


@pytest.fixture
def rates(settings):
    """Low rates (conftest gives every test a fresh cache key prefix, so no other test counts here)."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "2/min", "user": "3/min", "token-create": "1/hour",
                                   "token-failure": "2/min"},
    }
    return settings


def test_api_throttle_user_n_plus_first_request_is_429_with_retry_after(rates, lead_user):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=lead_user, name='t', expires_in_days=1).secret}"}
    codes = [Client().get("/api/control/batches/", **auth).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = Client().get("/api/control/batches/", **auth)
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 60


def test_api_throttle_anonymous_n_plus_first_request_is_429_before_permissions_answer(rates, lead_user):
    """Anonymous requests are refused by every API view's permissions (403); they still count."""
    codes = [Client().get(path).status_code for path in ("/api/control/batches/", "/api/tokens/", "/api/schema/")]
    refused = Client().get("/api/control/batches/")
    assert codes == [403, 403, 429]
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["detail"].startswith("Request was throttled.")


def test_api_throttle_anonymous_count_leaves_signed_in_users_alone(rates, lead_user):
    """Two anonymous requests use up the anonymous rate; a token's user from the same address is
    counted under the user rate only, and a browser session too."""
    assert [Client().get("/api/tokens/").status_code for _ in range(3)] == [403, 403, 429]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=lead_user, name='t', expires_in_days=1).secret}"}
    assert Client().get("/api/control/batches/", **auth).status_code == 200
    session = Client()
    session.force_login(lead_user)
    assert session.get("/api/control/batches/").status_code == 200


def test_api_throttle_refused_tokens_n_plus_first_is_429_and_good_tokens_still_work(rates, lead_user):
    good = api_token_create(user=lead_user, name="t", expires_in_days=1).secret
    codes = [Client().get("/api/tokens/", HTTP_AUTHORIZATION=f"Bearer hqc_{i:012d}_x").status_code for i in range(3)]
    assert codes == [403, 403, 429]
    assert Client().get("/api/tokens/", HTTP_AUTHORIZATION=f"Bearer {good}").status_code == 200


def test_api_throttle_token_creation_has_its_own_scope(rates, client, lead_user):
    client.force_login(lead_user)
    first = client.post("/api/tokens/", {"name": "a"}, content_type="application/json")
    second = client.post("/api/tokens/", {"name": "b"}, content_type="application/json")
    assert (first.status_code, second.status_code) == (201, 429)
    assert int(second["Retry-After"]) > 60
    assert client.get("/api/tokens/").status_code == 200


def test_api_throttle_counts_in_redis_when_a_broker_is_set(settings):
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert settings.CACHES["default"]["LOCATION"] == settings.CELERY_BROKER_URL
