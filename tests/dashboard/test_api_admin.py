"""Admin for the API doors: token hashes read-only, webhook URLs checked like judge base URLs."""

from dashboard.models import WebhookEndpoint
from dashboard.tokens import api_token_create

ENDPOINT = {"url": "http://127.0.0.1:8080/hook", "secret": "whsec_x", "active": "on", "events": '["gate.opened"]'}


def test_api_admin_token_hash_is_read_only_and_tokens_cannot_be_added(client, admin_user):
    new = api_token_create(user=admin_user, name="mine", expires_in_days=1)
    client.force_login(admin_user)
    html = client.get(f"/admin/dashboard/apitoken/{new.token.pk}/change/").content.decode()
    assert new.token.token_hash in html and 'name="token_hash"' not in html and new.secret not in html
    assert client.get("/admin/dashboard/apitoken/add/").status_code == 403


def test_api_admin_webhook_endpoint_refuses_a_private_url(client, admin_user, settings):
    settings.JUDGE_ALLOW_PRIVATE_HOSTS = False
    client.force_login(admin_user)
    response = client.post("/admin/dashboard/webhookendpoint/add/", ENDPOINT)
    assert response.status_code == 200
    assert "The webhook URL (url) host 127.0.0.1 is not a public address" in response.content.decode()
    assert WebhookEndpoint.objects.count() == 0


def test_api_admin_webhook_endpoint_saves_an_allowed_url(client, admin_user, settings):
    settings.JUDGE_ALLOW_PRIVATE_HOSTS = True
    client.force_login(admin_user)
    assert client.post("/admin/dashboard/webhookendpoint/add/", ENDPOINT).status_code == 302
    assert list(WebhookEndpoint.objects.values_list("url", "events")) == [(ENDPOINT["url"], ["gate.opened"])]
