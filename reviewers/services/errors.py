"""The one error the reviewer services raise for bad input or lost races; views map it to 4xx."""

from __future__ import annotations

from hybridqc.errors import ApplicationError


class ReviewError(ApplicationError):
    """A user-facing refusal of the review side: ``message`` is shown as is, ``status`` is the
    HTTP status to use (the application error type; see ``hybridqc.errors``)."""

    default_code = "review_refused"


class RosterCsvError(ReviewError):
    """A roster CSV refused as a whole: ``problems`` lists each (row, column, message), row 1
    being the header."""

    def __init__(self, message: str, problems: list[tuple[int, str, str]]) -> None:
        super().__init__(message, 422)
        self.problems = problems
