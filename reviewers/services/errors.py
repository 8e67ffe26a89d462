"""The one error the reviewer services raise for bad input or lost races; views map it to 4xx."""

from __future__ import annotations

from hybridqc.errors import ApplicationError


class ReviewError(ApplicationError):
    """A user-facing refusal of the review side: ``message`` is shown as is, ``status`` is the
    HTTP status to use (the application error type; see ``hybridqc.errors``)."""

    default_code = "review_refused"
