"""The password reset page is limited per e-mail address and per client address: past either
limit it answers 429 with the form, a sentence saying when to try again, and sends nothing."""

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from rest_framework.throttling import SimpleRateThrottle

URL = "/accounts/password_reset/"


@pytest.fixture
def rates(settings, monkeypatch):
    """2 per address, 3 per client address, per hour; DRF's clock stands still, so the wait is the
    whole hour (conftest gives every test a fresh cache key prefix)."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                                   "password-reset-email": "2/hour", "password-reset-ip": "3/hour"},
    }
    monkeypatch.setattr(SimpleRateThrottle, "timer", lambda self: 1_000_000.0)
    User.objects.create_user("dee", email="dee@x.example", password="a-long-pass-word-7")


def _reset(email, address="10.0.0.1"):
    return Client(REMOTE_ADDR=address).post(URL, {"email": email})


def test_password_reset_third_request_for_an_address_is_429_and_sends_nothing(db, rates):
    assert [_reset("dee@x.example").status_code, _reset("DEE@x.example", "10.0.0.2").status_code] == [302, 302]
    refused = _reset("Dee@X.example", "10.0.0.3")  # the address is counted whatever its case or origin
    body = refused.content.decode()
    assert (refused.status_code, refused["Retry-After"]) == (429, "3600")
    assert "Too many password reset requests for this address: try again in 60 min." in body
    assert '<input name="email"' in body and 'href="/accounts/login/"' in body  # the page, not a bare error
    assert len(mail.outbox) == 2
    assert _reset("someone@x.example", "10.0.0.3").status_code == 302  # another address is not held up


def test_password_reset_fourth_request_from_a_client_address_is_429(db, rates):
    assert [_reset(f"u{i}@x.example").status_code for i in range(3)] == [302, 302, 302]
    refused = _reset("dee@x.example")
    assert refused.status_code == 429
    assert "Too many password reset requests from your network address: try again in 60 min." in (
        refused.content.decode())
    assert mail.outbox == []  # nobody with those addresses; dee's request was refused before sending
    assert _reset("dee@x.example", "10.0.0.9").status_code == 302
    assert [m.to for m in mail.outbox] == [["dee@x.example"]]
