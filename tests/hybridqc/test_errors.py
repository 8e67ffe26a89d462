"""One application error type, mapped to HTTP in one place for the pages and for DRF alike."""

from __future__ import annotations

import json

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.test import RequestFactory
from django_htmx.middleware import HtmxDetails

from hybridqc.errors import (
    DATABASE_UNAVAILABLE_MESSAGE,
    ApplicationError,
    ApplicationErrorMiddleware,
    DatabaseUnavailable,
    api_exception_handler,
)
from reviewers.services import ReviewError
from routing.judging.services import JudgeSetupError


def test_application_error_middleware_maps_status_and_escapes_the_message():
    middleware = ApplicationErrorMiddleware(lambda request: HttpResponse())
    response = middleware.process_exception(RequestFactory().get("/"), ReviewError("<b>taken</b>", 409))
    assert response is not None
    assert (response.status_code, response.content) == (409, b"&lt;b&gt;taken&lt;/b&gt;")
    assert middleware.process_exception(RequestFactory().get("/"), ValueError("bug")) is None


def test_application_error_api_handler_gives_detail_and_code():
    response = api_exception_handler(JudgeSetupError("batch b has no examples"), {})
    assert response is not None
    assert (response.status_code, response.data) == (409, {"detail": "batch b has no examples", "code": "judge_setup"})
    assert api_exception_handler(ValueError("bug"), {}) is None


def test_application_error_defaults_and_subclasses_share_the_type():
    assert (ApplicationError("x").status, ApplicationError("x").code) == (400, "invalid")
    assert (ReviewError("x").status, ReviewError("x", 403).status) == (400, 403)
    assert ReviewError("x").code == "review_refused"
    assert issubclass(ReviewError, ApplicationError) and issubclass(JudgeSetupError, ApplicationError)


def test_application_error_middleware_answers_a_database_outage_with_the_503_page():
    middleware = ApplicationErrorMiddleware(lambda request: HttpResponse())
    request = RequestFactory().get("/control/")
    response = middleware.process_exception(request, OperationalError("connection refused"))
    assert response is not None
    body = response.content.decode()
    assert (response.status_code, response["Retry-After"]) == (503, "30")
    assert 'data-status="503"' in body and "<h1>Database unavailable</h1>" in body
    assert DATABASE_UNAVAILABLE_MESSAGE in body and 'class="topbar"' in body


def test_application_error_middleware_answers_json_under_the_api_and_text_to_htmx():
    middleware = ApplicationErrorMiddleware(lambda request: HttpResponse())
    api = middleware.process_exception(RequestFactory().get("/api/control/batches/"), InterfaceError("closed"))
    htmx_request = RequestFactory().get("/control/", headers={"HX-Request": "true"})
    htmx_request.htmx = HtmxDetails(htmx_request)
    htmx = middleware.process_exception(htmx_request, OperationalError("closed"))
    assert api is not None and htmx is not None
    assert (api.status_code, api["Retry-After"], json.loads(api.content)) == (
        503, "30", {"detail": DATABASE_UNAVAILABLE_MESSAGE, "code": "database_unavailable"})
    assert (htmx.status_code, htmx["Retry-After"], htmx.content.decode()) == (503, "30", DATABASE_UNAVAILABLE_MESSAGE)


def test_application_error_api_handler_maps_database_errors_to_503_with_retry_after():
    for exc in (OperationalError("server closed the connection"), InterfaceError("connection already closed")):
        response = api_exception_handler(exc, {})
        assert response is not None
        assert (response.status_code, response["Retry-After"]) == (503, "30")
        assert response.data == {"detail": DATABASE_UNAVAILABLE_MESSAGE, "code": "database_unavailable"}
    assert DatabaseUnavailable("x").status == 503 and issubclass(DatabaseUnavailable, ApplicationError)
