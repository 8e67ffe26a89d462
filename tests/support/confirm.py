"""Posting through a confirmation step (hybridqc/confirm.py) as a lead does: the first POST
answers with a preview carrying a token; the second carries the token back."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client

from hybridqc.confirm import TOKEN_FIELD


def confirm_token(body: str) -> str:
    """The token of the preview in ``body`` (an AssertionError when there is none)."""
    found = re.search(rf'name="{TOKEN_FIELD}" value="([^"]+)"', body)
    assert found is not None, "no confirmation step in the answer"
    return found.group(1)


def post_confirmed(client: Client, url: str, data: dict[str, Any] | None = None, *, follow: bool = False,
                   **extra: Any) -> Any:
    """POST ``data`` to ``url``, then confirm the preview it answers with."""
    data = dict(data or {})
    preview = client.post(url, data, **extra)
    assert preview.status_code == 200, preview.status_code
    return client.post(url, {**data, TOKEN_FIELD: confirm_token(preview.content.decode())}, follow=follow, **extra)
