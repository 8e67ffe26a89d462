"""Log records that stay on one line whatever the values they carry."""

from __future__ import annotations

import logging

ESCAPES = str.maketrans({"\n": "\\n", "\r": "\\r", "\x1b": "\\x1b"})


class SingleLineFormatter(logging.Formatter):
    """Escapes line breaks (and terminal escapes) in the message; a traceback, appended after the
    message by ``format``, keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's own name
        record.message = record.message.translate(ESCAPES)
        return super().formatMessage(record)
