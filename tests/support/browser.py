"""Signing in as a browser test's user does: through the login form, with the factories' password."""

from __future__ import annotations

from typing import Any

from tests import factories


def login(page: Any, base_url: str, username: str, *, next_path: str = "") -> None:
    """Sign ``username`` in on ``page`` and wait until the page the login leads to has loaded
    (``next_path``, else the user's start page), so the session cookie is set for what follows."""
    page.goto(f"{base_url}/accounts/login/" + (f"?next={next_path}" if next_path else ""))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
