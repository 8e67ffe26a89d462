from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """HttpRequest as HtmxMiddleware leaves it (for type checkers)."""

    htmx: HtmxDetails


def render_htmx(request: HttpRequest, template: str, partial: str | None, context: Mapping[str, Any],
                status: int = 200) -> HttpResponse:
    """The template's ``partial`` (a ``{% partialdef %}``) when htmx asks and a partial is named,
    the whole page otherwise (the same view then works without JavaScript)."""
    name = f"{template}#{partial}" if partial and getattr(request, "htmx", False) else template
    return render(request, name, context, status=status)
