"""Signing in as a browser test's user does: through the login form, with the factories' password."""

from __future__ import annotations

from typing import Any

from tests import factories


def login(page: Any, base_url: str, username: str, *, next_path: str = "", password: str = factories.PASSWORD,
          form: str = "/accounts/login/", expect_refusal: bool = False) -> None:
    """Sign ``username`` in on ``page`` through the login form at ``form`` and wait until the page
    the login leads to has loaded (``next_path``, else the user's start page), so the session cookie
    is set for what follows. ``expect_refusal``: a wrong password, which stays on the form; wait
    for the answer to load instead."""
    page.goto(f"{base_url}{form}" + (f"?next={next_path}" if next_path else ""))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("[type=submit]")
    if expect_refusal:
        page.wait_for_load_state("load")
        return
    page.wait_for_url(lambda url: form not in url)
    # A reviewer's start page claims their next item by a POST its script sends once the page has
    # loaded: wait until that has answered, or a claim the test makes next races it (two leases).
    page.wait_for_load_state("networkidle")
