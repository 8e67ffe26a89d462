"""Start the fake OpenAI-compatible judge on a free 127.0.0.1 port for a test.

``fake_judge`` (fixture) runs it in a thread of the test process; ``fake_judge_process`` runs
``python -m routing.judging.fake_judge`` as a subprocess (for benchmarks and worker tests that should not
share the test process's GIL). Both answer GET /stats over real HTTP.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from routing.judging.fake_judge.replay import Replay
from routing.judging.fake_judge.server import FakeOptions, ServerThread, serve_in_thread

ROOT = Path(__file__).resolve().parent.parent.parent


def http_json(url: str, payload: dict[str, Any] | None = None) -> Any:
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback test server
        return json.loads(resp.read())


def root_of(base_url: str) -> str:
    return base_url.removesuffix("/v1")


def stats(base_url: str, detail: bool = False) -> dict[str, Any]:
    """The fake server's counters, read over HTTP."""
    return http_json(f"{root_of(base_url)}/stats{'?detail=1' if detail else ''}")


def reset(base_url: str) -> None:
    http_json(f"{root_of(base_url)}/reset", {})


def configure(base_url: str, **options: Any) -> None:
    http_json(f"{root_of(base_url)}/control", options)


@contextlib.contextmanager
def running_fake(replay: Replay | None = None, **options: Any) -> Iterator[ServerThread]:
    server = serve_in_thread(FakeOptions(**options), replay)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake_judge() -> Iterator[ServerThread]:
    """A fake judge with no latency and no random faults (tests script faults in prompts)."""
    with running_fake(retry_after_s=0.3, hang_s=5.0) as server:
        yield server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def fake_judge_process(*args: str, log: Path | None = None) -> Iterator[str]:
    """``python -m routing.judging.fake_judge --port <free> ARGS``; yields the base URL (…/v1)."""
    port = free_port()
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "routing.judging.fake_judge", "--port", str(port), *args],
                            cwd=ROOT, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                stats(url)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("fake judge server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        if log:
            out.close()  # type: ignore[union-attr]
