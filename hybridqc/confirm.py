"""The confirmation step of an action that changes more than one item.

The first POST shows a preview (what will change, computed by a dry run of the action's own
service) and a form carrying a token of it: the preview's figures and a hash of the state they
were computed on, signed. The second POST carries the token back; if the state has moved since
(someone labeled, another re-route ran) the action is refused with 409 and a fresh preview,
rather than doing something the lead did not see."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from hybridqc.errors import ApplicationError

SALT = "hybridqc.confirm"
TOKEN_FIELD = "confirm_token"


class ConfirmationError(ApplicationError):
    """The confirmation token is missing, forged, or was made for another state (409)."""

    default_status = 409
    default_code = "stale_preview"


def state_hash(state: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()


def preview_token(*, action: str, state: Mapping[str, Any], summary: Mapping[str, Any]) -> str:
    """A signed token of this preview: the action, the state's hash, the figures shown."""
    return signing.dumps({"action": action, "state": state_hash(state), "summary": dict(summary)}, salt=SALT)


def preview_check(*, token: str, action: str, state: Mapping[str, Any]) -> dict[str, Any]:
    """The previewed figures if ``token`` was made for ``action`` on this very ``state``; else a
    ``ConfirmationError`` (400 for a token that is not one, 409 when the state changed)."""
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise ConfirmationError(f"{TOKEN_FIELD}: not a confirmation of this page; preview again", status=400) from None
    if data.get("action") != action:
        raise ConfirmationError(f"{TOKEN_FIELD}: this confirmation is for another action", status=400)
    if data.get("state") != state_hash(state):
        raise ConfirmationError("This changed since the preview (someone labeled, or another run happened): "
                                "check the new preview and confirm again.")
    return dict(data.get("summary") or {})


STARTED_KEPT = "Items a reviewer has started on (leased or labeled) keep their decision, tasks and labels."


@dataclass
class Preview:
    """What an action will do, and the token its confirmation carries: figures now and after
    (``figures`` names and orders them), and facts that have no before/after (the model a
    retrain competes with, say)."""

    action: str
    before: dict[str, Any]
    after: dict[str, Any]
    token: str
    detail: str = ""
    figures: Sequence[tuple[str, str]] = ()
    facts: Sequence[tuple[str, str, Any]] = ()
    note: str = STARTED_KEPT

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [{"key": k, "label": label, "before": self.before[k], "after": self.after[k],
                 "changed": self.before[k] != self.after[k]} for k, label in self.figures]


class _Rollback(Exception):
    pass


def dry_run[T](action: Callable[[], T]) -> T:
    """What ``action`` returns when run for real, with every write it made rolled back (and the
    work it queued on commit dropped with them)."""
    box: list[T] = []
    try:
        with transaction.atomic():
            box.append(action())
            raise _Rollback
    except _Rollback:
        pass
    return box[0]


def confirm_step[T](request: HttpRequest, *, preview: Callable[[str, int], HttpResponse],
                    confirm: Callable[[str], T], done: Callable[[T], HttpResponse],
                    required: bool = True) -> HttpResponse:
    """The view half of both steps. Without the preview's token: ``preview("", 200)``, the page
    that shows what will change. With it: ``confirm(token)`` does the action (checking the token
    first), then ``done(result)`` answers; a refused token (``ConfirmationError``) answers
    ``preview(message, status)`` instead, a fresh preview carrying the reason and its 400/409.
    ``required=False``: there is nothing to preview, so the action runs with an empty token."""
    token = request.POST.get(TOKEN_FIELD, "")
    if not token and required:
        return preview("", 200)
    try:
        result = confirm(token)
    except ConfirmationError as exc:
        return preview(exc.message, exc.status)
    return done(result)


def confirm_render(request: HttpRequest, *, partial: str, context: Mapping[str, Any], status: int) -> HttpResponse:
    """A preview step: the page's ``partial`` in place for htmx, the stand-alone confirm page without JS."""
    template = partial if getattr(request, "htmx", False) else "confirm_page.html"
    return render(request, template, context, status=status)
