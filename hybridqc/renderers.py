"""The browsable API as the site's pages are: under its CSP (style-src 'self': no inline style), and
without one-click forms that act (the pages do that, with their confirmation steps)."""

from __future__ import annotations

from typing import Any

from rest_framework.renderers import BrowsableAPIRenderer


class CspBrowsableAPIRenderer(BrowsableAPIRenderer):
    """DRF's browsable API without the inline style element of code colours it adds when Pygments is
    installed (the CSP refuses it, and every API page logged the refusal as a console error), and
    read-only: its POST forms started a judge run over a reviewed batch or an export of a held one
    on one click, where the batch pages ask first. Scripts use the same endpoints with JSON."""

    def show_form_for_method(self, view: Any, method: str, request: Any, obj: Any) -> bool:
        return False

    def get_context(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context(*args, **kwargs)
        context["code_style"] = None
        return context
