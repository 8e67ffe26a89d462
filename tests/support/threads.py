"""Running a piece of work in many threads at once, each on its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection


def threads_run(work: Callable[[Any], None], args: Sequence[Any], timeout: float = 240) -> list[BaseException]:
    """``work(arg)`` in one thread per arg, released together by a barrier; the errors they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(args))

    def run(arg: Any) -> None:
        try:
            start.wait()
            work(arg)
        except BaseException as exc:  # reported by the calling thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(arg,)) for arg in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads)
    return errors
