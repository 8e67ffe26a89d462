"""API settings read from the environment fail loudly on a malformed rate."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from hybridqc.env import env_rate


@pytest.mark.parametrize("raw", ["60/mni", "0/min", "-1/min", "60", "sixty/min", "60/minutes"])
def test_env_rate_refuses_malformed_rates(monkeypatch, raw):
    monkeypatch.setenv("X_RATE", raw)
    with pytest.raises(ImproperlyConfigured, match=rf"X_RATE='{raw}' is not a rate like 60/min"):
        env_rate("X_RATE", "1/min")


@pytest.mark.parametrize(("raw", "expected"), [("", "5/hour"), ("30/min", "30/min"), ("2/s", "2/s")])
def test_env_rate_reads_rates_and_defaults(monkeypatch, raw, expected):
    monkeypatch.setenv("X_RATE", raw)
    assert env_rate("X_RATE", "5/hour") == expected
