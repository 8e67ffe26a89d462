"""Fixtures for the reviewer tests (their row builders live in tests/factories.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _review_defaults(settings):
    """Deterministic queues: no random second reviews or gold checks unless a test asks."""
    settings.REVIEW_SECOND_SHARE = 0.0
    settings.REVIEW_GOLD_SHARE = 0.0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins
