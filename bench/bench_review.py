"""Review queue under load: 32 reviewers over loopback HTTP against a real gunicorn server on the
bench database, each doing "submit, get the next item" (one htmx request) in a bounded loop.

Two phases, same server and reviewers:
- paced: each reviewer pauses 1-3 s (mean 2 s) between items, which is still several times faster
  than a person reads two answers; this is the p95 the goal is about (review_submit_next_p95_ms);
- saturated: no pause at all, to show the ceiling (throughput and its p95) on this 2-core box.
Across both: tasks handed to two reviewers (must be 0) and labels the server accepted but did
not store (must be 0). Loopback only; every loop is bounded by an item count."""

from __future__ import annotations

import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
REVIEWERS = 32
PACED_ITEMS = 12
SATURATED_ITEMS = 10
SINGLE_ITEMS = 20
ITEMS_PER_REVIEWER = PACED_ITEMS + SATURATED_ITEMS
THINK_S = (1.0, 3.0)
BATCH = "bench-review"
# gunicorn as `make serve` runs it (sync workers), with 2 workers per core. Measured on this 2-core
# box: sync workers beat threaded ones (2x16, 4x4, 4x2 gthread) on paced p95 and saturated
# throughput alike, because threads of one process queue on the GIL at every database round trip.
# Sync workers close each connection after its response (no keep-alive), so each submit includes
# a loopback TCP connect, as a client of `make serve` would see.
GUNICORN_ARGS = ["--workers", "4", "--worker-class", "sync"]
TASK_ID = re.compile(r'id="review-item"[^>]*data-task-id="([\w-]*)"')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _setup() -> list[str]:
    """Fresh reviewers, tasks and logged-in sessions (made directly: password hashing is not
    what this measures). Returns one session key per reviewer."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore

    from hybridqc.flows.imports import batch_import
    from reviewers.models import Credential, ReviewerProfile
    from reviewers.services import review_tasks_create
    from routing.batches.models import Batch

    Batch.objects.filter(name=BATCH).delete()
    User.objects.filter(username__startswith="bench-rev-").delete()
    n = REVIEWERS * ITEMS_PER_REVIEWER + SINGLE_ITEMS + 64
    lines = [
        json.dumps(
            {
                "id": f"r{i}",
                "task": "pairwise",
                "domain": "bench/review",
                "prompt": f"Question {i}: which answer is right?",
                "responses": [f"**A** says `{i}`", f"B says {i + 1}"],
            }
        )
        for i in range(n)
    ]
    examples = list(batch_import(batch_name=BATCH, lines=lines).batch.examples.select_related("domain"))
    keys = []
    for i in range(REVIEWERS):
        user = User.objects.create_user(username=f"bench-rev-{i:02d}")
        profile = ReviewerProfile.objects.create(user=user, capacity_per_day=1000)
        Credential.objects.create(reviewer=profile, domain_prefix="bench/review")  # not other benches' tasks
        session = SessionStore()
        session[SESSION_KEY], session[BACKEND_SESSION_KEY] = str(user.pk), "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        keys.append(str(session.session_key))
    review_tasks_create(examples=examples, kind="routed")
    return keys


def _server_env() -> dict[str, str]:
    """gunicorn's environment: this run's database, served as in production."""
    from django.db import connection

    db = connection.settings_dict
    env = {
        **os.environ,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-only-secret",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "0",  # as served: no query log, cached templates
        "SECURE_HTTPS": "0",  # plain HTTP on loopback, as `make serve` runs locally
    }
    env.pop("HYBRIDQC_DEMO", None)
    env.pop("CELERY_BROKER_URL", None)  # follow-ups run in-process; no worker in this bench
    return env


def _server(port: int, log: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "hybridqc.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            *GUNICORN_ARGS,
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=_server_env(),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {log}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=2)
            return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gunicorn did not start within 60 s")


class Reviewer(threading.Thread):
    """One reviewer: open the queue, then submit + next item; PACED_ITEMS with pauses, then wait
    for everyone, then SATURATED_ITEMS without pauses."""

    def __init__(self, base: str, session_key: str, barrier: threading.Barrier, seed: int) -> None:
        super().__init__(daemon=True)
        self.base, self.session_key, self.barrier = base, session_key, barrier
        self.rng = random.Random(seed)
        self.latencies: dict[str, list[float]] = {"paced": [], "saturated": []}
        self.seen: list[str] = []
        self.accepted: list[str] = []
        self.errors: list[str] = []
        self.task_id: str | None = None
        self.saturated_span = (0.0, 0.0)

    def run(self) -> None:
        # Every thread reaches every barrier even if its requests fail, so one error cannot
        # stall the others; failures are counted in errors.
        with httpx.Client(base_url=self.base, timeout=30, cookies={"sessionid": self.session_key}) as http:
            headers = self._guarded(self._open, http) or {}
            self._sync()
            self._guarded(self._phase, http, headers, "paced", PACED_ITEMS)
            self._sync()
            started = time.monotonic()
            self._guarded(self._phase, http, headers, "saturated", SATURATED_ITEMS)
            self.saturated_span = (started, time.monotonic())

    def _open(self, http: httpx.Client) -> dict[str, str]:
        http.get("/review/")  # sets the CSRF cookie; a GET claims nothing, the POST below does
        headers = {"HX-Request": "true", "X-CSRFToken": http.cookies.get("csrftoken") or ""}
        self.task_id = self._task(http.post("/review/next/", headers=headers))
        return headers

    def _guarded(self, fn, *args):  # type: ignore[no-untyped-def]
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - reported as a bench error, not raised in a thread
            self.errors.append(repr(exc))
            self.task_id = None
            return None

    def _sync(self) -> None:
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            self.errors.append("barrier broken")

    def _phase(self, http: httpx.Client, headers: dict[str, str], phase: str, items: int) -> None:
        for i in range(items):
            if self.task_id is None:
                return
            if phase == "paced":
                time.sleep(self.rng.uniform(*THINK_S))  # reading the item
            started = time.perf_counter()
            label = {"task": str(self.task_id), "choice": str(1 + i % 2)}
            resp = http.post(f"/review/task/{self.task_id}/submit/", data=label, headers=headers)
            self.latencies[phase].append((time.perf_counter() - started) * 1000)
            if resp.status_code == 200 and "Saved." in resp.text:
                self.accepted.append(self.task_id)
            else:
                self.errors.append(f"{resp.status_code} on task {self.task_id}")
            self.task_id = self._task(resp)

    def _task(self, resp: httpx.Response) -> str | None:
        match = TASK_ID.search(resp.text)
        if not match or not match.group(1):
            return None
        task_id = match.group(1)
        if not self.seen or self.seen[-1] != task_id:
            self.seen.append(task_id)
        return task_id


def _server_cpu_s(server: subprocess.Popen[bytes]) -> float:
    """CPU seconds (user + system) used so far by gunicorn's workers, from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        total = 0
        for pid in children:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / tick
    except OSError:
        return float("nan")


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def _check(reviewers: list[Reviewer], user_ids: dict[str, int]) -> tuple[int, int]:
    """(tasks handed to more than one reviewer, accepted labels missing from the database)."""
    from reviewers.models import HumanLabel

    holders: dict[str, set[str]] = defaultdict(set)
    for r in reviewers:
        for task_id in r.seen:
            holders[task_id].add(r.session_key)
    double = sum(1 for keys in holders.values() if len(keys) > 1)
    stored = set(
        HumanLabel.objects.filter(task__example__batch__name=BATCH).values_list("task__public_id", "reviewer__user_id")
    )
    lost = sum(1 for r in reviewers for t in r.accepted if (t, user_ids[r.session_key]) not in stored)
    return double, lost


def run() -> dict[str, float]:
    from django.contrib.sessions.models import Session

    keys = _setup()
    user_ids = {k: int(Session.objects.get(pk=k).get_decoded()["_auth_user_id"]) for k in keys}
    single, reviewers, cpu_used = _load(keys)
    return _figures(single, reviewers, cpu_used, user_ids)


def _load(keys: list[str]) -> tuple[Reviewer, list[Reviewer], float]:
    """Run the reviewers against a fresh gunicorn: one alone first (the request's own latency),
    then all of them; returns them and the server's CPU seconds under the crowd."""
    port = _free_port()
    (ROOT / "var").mkdir(exist_ok=True)
    server = _server(port, ROOT / "var" / "bench-review-gunicorn.log")
    try:
        single = Reviewer(f"http://127.0.0.1:{port}", keys[0], threading.Barrier(1), seed=99)
        with httpx.Client(base_url=single.base, timeout=30, cookies={"sessionid": keys[0]}) as http:
            single._phase(http, single._open(http), "saturated", SINGLE_ITEMS)
        cpu_before = _server_cpu_s(server)
        barrier = threading.Barrier(REVIEWERS, timeout=300)
        reviewers = [Reviewer(f"http://127.0.0.1:{port}", k, barrier, seed=i) for i, k in enumerate(keys)]
        for r in reviewers:
            r.start()
        for r in reviewers:
            r.join(timeout=600)
        return single, reviewers, _server_cpu_s(server) - cpu_before
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def _figures(single: Reviewer, reviewers: list[Reviewer], cpu_used: float,
             user_ids: dict[str, int]) -> dict[str, float]:
    paced = [x for r in reviewers for x in r.latencies["paced"]]
    saturated = [x for r in reviewers for x in r.latencies["saturated"]]
    double, lost = _check([single, *reviewers], user_ids)
    errors = [e for r in reviewers for e in r.errors]
    if errors:
        print(f"bench_review: {len(errors)} refused submits, e.g. {errors[:3]}", file=sys.stderr)
    sat_seconds = max(0.001, max(r.saturated_span[1] for r in reviewers) - min(r.saturated_span[0] for r in reviewers))
    return {
        "review_submit_next_p95_ms": round(_p95(paced), 1) if paced else float("nan"),
        "review_submit_next_p50_ms": round(_p50(paced), 1) if paced else float("nan"),
        "review_single_reviewer_p50_ms": round(_p50(single.latencies["saturated"]), 1),
        "review_saturated_p95_ms": round(_p95(saturated), 1) if saturated else float("nan"),
        "review_saturated_submits_per_s": round(len(saturated) / sat_seconds, 1),
        "review_submits": float(len(paced) + len(saturated)),
        # Load-independent cost: gunicorn CPU per submit + next item (PostgreSQL's not included).
        "review_server_cpu_ms_per_submit": round(1000 * cpu_used / max(1, len(paced) + len(saturated)), 1),
        "review_refused_submits": float(len(errors)),
        "review_double_assignments": float(double),
        "review_lost_labels": float(lost),
    }


def _p50(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]
