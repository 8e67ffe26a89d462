"""Real processes for the fault tests: Celery workers, a private redis-server, gunicorn."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from django.db import connection

from hybridqc.queues import queue_names

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_db_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def project_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "SECRET_KEY": "test-only-secret", "DATABASE_URL": test_db_url(), "SECURE_HTTPS": "0",
            **extra}


def spawn(args: list[str], log_name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """In its own process group, so SIGKILL takes all of it (gunicorn's and celery's children too)."""
    log = open(ROOT / "var" / log_name, "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def worker(queue: str, **extra: str) -> subprocess.Popen[bytes]:
    """A worker on every queue of the prefix ``queue`` (judge, routing, housekeeping)."""
    return spawn([sys.executable, "-m", "celery", "-A", "hybridqc", "worker", "-Q", ",".join(queue_names(queue)),
                  "-P", "solo", "-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat",
                  "-n", f"{queue}-{uuid.uuid4().hex[:4]}@%h"], f"worker-{queue}.log",
                 project_env(CELERY_QUEUE_PREFIX=queue, **extra))


def redis_server(port: int) -> subprocess.Popen[bytes]:
    proc = spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                 f"redis-{port}.log", dict(os.environ))
    wait_port(port)
    return proc


def gunicorn(port: int, **extra: str) -> subprocess.Popen[bytes]:
    proc = spawn([sys.executable, "-m", "gunicorn", "hybridqc.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2",
                  "--timeout", "60"], f"gunicorn-{port}.log", project_env(ALLOWED_HOSTS="127.0.0.1", **extra))
    wait_port(port)
    return proc


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the whole process group and reap it."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(20)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            kill(proc)
