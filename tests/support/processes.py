"""Real processes for the fault tests: Celery workers, a private redis-server, gunicorn."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
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


class PostgresCluster:
    """A private PostgreSQL cluster (initdb + pg_ctl) in a temporary directory on a free port, trust
    auth, for faults that stop the server: the shared one on 5432 is never touched. As root the
    cluster's commands run as the ``postgres`` OS user (initdb refuses root)."""

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
        if not found:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql (install postgresql)")
        self.bin = found[-1].parent
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="hybridqc-pg-"))
        self.data = self.dir / "data"
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        proc = subprocess.run([*as_postgres, str(self.bin / tool), *args], capture_output=True, text=True,
                              timeout=120, cwd=self.dir)
        if proc.returncode != 0:
            raise RuntimeError(f"{tool} failed: {proc.stdout[-1000:]} {proc.stderr[-1000:]}")

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off -c max_connections=60"
        self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.dir / "log"),
                  "-o", options)

    def stop_immediately(self) -> None:
        """What a crash looks like to clients: every backend gone at once, recovery on the next start."""
        self._run("pg_ctl", "stop", "-m", "immediate", "-D", str(self.data))

    def createdb(self, name: str) -> None:
        self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                  "-c", f'CREATE DATABASE "{name}"')

    def remove(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._run("pg_ctl", "stop", "-m", "immediate", "-D", str(self.data))
        shutil.rmtree(self.dir, ignore_errors=True)


def migrate(database_url: str) -> None:
    proc = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=project_env(DATABASE_URL=database_url))
    if proc.returncode != 0:
        raise RuntimeError(f"migrate failed: {proc.stderr[-2000:]}")
