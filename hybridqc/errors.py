"""The one application error type and where it becomes an HTTP answer.

A service refuses bad input or a lost race by raising ``ApplicationError`` (or a subclass:
``ReviewError``, ``JudgeSetupError``) with a message meant for the user and an HTTP status. Views
may catch it to answer in place (a form's partial with 422); what they leave uncaught is mapped
here, once: ``ApplicationErrorMiddleware`` for the pages (a short escaped text, which htmx swaps
into an error target) and ``api_exception_handler`` for DRF (``{"detail", "code"}``). Never a 500.

The database unreachable for a moment (restarted, failed over) is mapped here too, as
``DatabaseUnavailable``: a 503 with ``Retry-After`` (the styled page, or JSON under the API), not
a 500 with a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.html import escape
from rest_framework.response import Response
from rest_framework.views import exception_handler

from hybridqc.queueing import DATABASE_DOWN

log = logging.getLogger(__name__)


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


class DatabaseUnavailable(ApplicationError):
    """The database cannot be reached for a moment: try again after ``RETRY_AFTER`` seconds."""

    default_status = 503
    default_code = "database_unavailable"
    RETRY_AFTER = 30


DATABASE_UNAVAILABLE_MESSAGE = ("The database cannot be reached at the moment, so nothing could be read or saved. "
                                f"Try again in about {DatabaseUnavailable.RETRY_AFTER} seconds.")


def application_error_for(exc: Exception) -> ApplicationError | None:
    """The one mapping: the application error an exception answers as, None for a bug (a 500)."""
    if isinstance(exc, ApplicationError):
        return exc
    if isinstance(exc, DATABASE_DOWN):
        log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
        return DatabaseUnavailable(DATABASE_UNAVAILABLE_MESSAGE)
    return None


def _headers(exc: ApplicationError) -> dict[str, str]:
    return {"Retry-After": str(exc.RETRY_AFTER)} if isinstance(exc, DatabaseUnavailable) else {}


def application_error_response(exc: ApplicationError) -> HttpResponse:
    """What a page answers: the message, escaped (it may quote user input), with its status."""
    return HttpResponse(escape(exc.message), status=exc.status, content_type="text/plain; charset=utf-8",
                        headers=_headers(exc))


def database_unavailable_page(exc: DatabaseUnavailable) -> HttpResponse:
    # Rendered without the request: its context (the user, their permissions, messages) would
    # query the database that is down, so the page keeps the top bar but names nobody.
    return HttpResponse(render_to_string("503.html", {"message": exc.message}), status=exc.status,
                        headers=_headers(exc))


def method_not_allowed_page(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """The styled page for an action's address opened as a page (``require_POST`` answers 405 with
    no body, which the browser would show as its own bare error page); its ``Allow`` is kept."""
    allowed = response.get("Allow", "")
    page = render(request, "405.html", {"allowed": allowed or "a form"}, status=405)
    if allowed:
        page["Allow"] = allowed
    return page


class ApplicationErrorMiddleware:
    """Maps an ``ApplicationError`` a view did not catch to its status (never a 500), and gives
    a page's bare 405 the styled page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 405 and not response.content and not request.path.startswith("/api/"):
            return method_not_allowed_page(request, response)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        error = application_error_for(exception)
        if error is None:
            return None
        if request.path.startswith("/api/"):  # outside a DRF view (a decorator, the session)
            return JsonResponse({"detail": error.message, "code": error.code}, status=error.status,
                                headers=_headers(error))
        if isinstance(error, DatabaseUnavailable) and not getattr(request, "htmx", False):
            return database_unavailable_page(error)
        return application_error_response(error)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus ``ApplicationError`` as ``{"detail": message, "code": code}``."""
    error = application_error_for(exc)
    if error is not None:
        return Response({"detail": error.message, "code": error.code}, status=error.status, headers=_headers(error))
    return exception_handler(exc, context)
