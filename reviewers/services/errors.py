"""The one error the reviewer services raise for bad input or lost races; views map it to 4xx."""

from __future__ import annotations


class ReviewError(Exception):
    """A user-facing refusal: ``message`` is shown as is, ``status`` is the HTTP status to use."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
