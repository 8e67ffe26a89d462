"""Every view declares who may use it: anonymous visitors get nothing but the login page."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

# The password reset pages serve people who cannot log in (an invited reviewer, a lost password).
PUBLIC = {"/accounts/login/", "/accounts/logout/", "/", "/favicon.ico", "/accounts/password_reset/",
          "/accounts/password_reset/done/", "/accounts/reset/1/1/", "/accounts/reset/done/"}


def _paths(patterns, prefix=""):
    for p in patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            if route.startswith("admin/"):
                continue
            yield from _paths(p.url_patterns, route)
        elif isinstance(p, URLPattern):
            yield "/" + re.sub(r"<(?:\w+:)?\w+>", "1", route).lstrip("^").rstrip("$")


@pytest.mark.parametrize("path", sorted(set(_paths(get_resolver().url_patterns)) - PUBLIC))
def test_every_view_refuses_anonymous_visitors(client, db, path):
    status = client.get(path).status_code
    assert status in (302, 401, 403, 405), f"{path} answered {status} to an anonymous visitor"
    if status == 302:
        assert client.get(path)["Location"].startswith("/accounts/login/")
