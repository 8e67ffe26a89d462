"""One application error type, mapped to HTTP in one place for the pages and for DRF alike."""

from __future__ import annotations

from django.http import HttpResponse
from django.test import RequestFactory

from hybridqc.errors import ApplicationError, ApplicationErrorMiddleware, api_exception_handler
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
