"""The one application error type and where it becomes an HTTP answer.

A service refuses bad input or a lost race by raising ``ApplicationError`` (or a subclass:
``ReviewError``, ``JudgeSetupError``) with a message meant for the user and an HTTP status. Views
may catch it to answer in place (a form's partial with 422); what they leave uncaught is mapped
here, once: ``ApplicationErrorMiddleware`` for the pages (a short escaped text, which htmx swaps
into an error target) and ``api_exception_handler`` for DRF (``{"detail", "code"}``). Never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.html import escape
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ApplicationError(Exception):
    """A user-facing refusal: ``message`` is shown as is, ``status`` is the HTTP status to use,
    ``code`` a stable machine-readable name for API clients."""

    default_status = 400
    default_code = "invalid"

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status or self.default_status
        self.code = code or self.default_code


def application_error_response(exc: ApplicationError) -> HttpResponse:
    """What a page answers: the message, escaped (it may quote user input), with its status."""
    return HttpResponse(escape(exc.message), status=exc.status, content_type="text/plain; charset=utf-8")


class ApplicationErrorMiddleware:
    """Maps an ``ApplicationError`` a view did not catch to its status (never a 500)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, ApplicationError):
            return application_error_response(exception)
        return None


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus ``ApplicationError`` as ``{"detail": message, "code": code}``."""
    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.message, "code": exc.code}, status=exc.status)
    return exception_handler(exc, context)
