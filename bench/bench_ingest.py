"""Import at scale, one run, same file (bench/ingest_data.py: 100k format-v1 items, 10 judgments
and 1 human label each, made once into var/):

- ``ingest_rows_per_s_100k``: items per second of ``manage.py import_examples`` run as a subprocess,
  by the import's time as the command reports it (``ingest_command_wall_100k_s`` adds interpreter
  and Django start, several seconds on a loaded machine), and ``ingest_peak_rss_mb_100k`` its
  peak RSS (/usr/bin/time; a bare ``manage.py check`` takes about 208 MB here);
- ``ingest_fraction_of_copy``: a bare COPY of the same rows into the same tables (examples,
  judgments, labels: one COPY each and the commit, with the tables' indexes, foreign keys and
  triggers; no validation, no staging) divided by the import's time. Its rows are made from the
  file beforehand, untimed (``ingest_copy_prepare_s``: reading, orjson, COPY text);
- ``ingest_fraction_of_unchecked_copy``: the same bare COPY with the foreign keys handled as the
  import handles them where the role may (session_replication_role = replica: no query per row;
  routing.ingest.ingest_copy), divided by the import's time: the bench's role is a superuser, so
  its import takes that path, and this is the like-for-like bound;
- ``ingest_rows_per_s_100k_row_checks``: the import run as a role without that privilege (made by
  the bench, with the tables' privileges only), which checks every row's keys, once;
- ``api_import_100k_ok``: 1 when the file POSTed to /api/control/batches/ over loopback HTTP
  (gunicorn, a lead's API token) answers 202 and its background job, on a real Celery worker,
  ends ``done`` with every item written.

Batches of earlier runs (``bench-ingest-*``) are deleted first, so the tables stay the same size."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
from django.contrib.auth.models import User
from django.db import connection, transaction

from bench.bench_judge import _worker
from bench.bench_review import _free_port
from bench.ingest_data import DOMAINS, ITEMS, items_file
from dashboard.tokens import api_token_create
from hybridqc.celery import app, queues_use
from routing.batches.models import Batch, Domain
from tests import factories
from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "var" / "ingest-100k.jsonl"
PREFIX = "bench-ingest-"
LEAD = "bench-ingest-lead"
JOB_TIMEOUT_S = 900
GUNICORN_START_S = 240
ROUNDS = 2
PLAIN_ROLE = "hybridqc_bench_plain"
IMPORTED = re.compile(rf"{ITEMS} examples imported, 0 already present, .* in ([0-9.]+) s")


def _cleanup() -> None:
    Batch.objects.filter(name__startswith=PREFIX).delete()


def _import_subprocess(batch: str, env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """(the import's own seconds as the command reports them, the command's wall seconds with
    interpreter and Django start, peak RSS in MB) of import_examples on the benchmark file.

    The RSS comes from /usr/bin/time around the command: the rusage of a child forked from this
    process would count, before its exec, this process's own pages (the bare COPY's rows)."""
    rss_file = ROOT / "var" / f"{batch}.rss"
    started = time.monotonic()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(rss_file), sys.executable, "manage.py",
                           "import_examples", str(DATA), "--batch", batch, "--no-pipeline"],
                          cwd=ROOT, capture_output=True, check=False, env=env)
    seconds = time.monotonic() - started
    output = (proc.stdout + proc.stderr).decode(errors="replace")
    reported = IMPORTED.search(output)
    if proc.returncode != 0 or reported is None:
        raise RuntimeError(f"import_examples failed: {output[-2000:]}")
    rss_kb = int(rss_file.read_text().split()[-1])
    rss_file.unlink()
    return float(reported.group(1)), seconds, rss_kb / 1024


def _ids(cursor: Any, table: str, n: int) -> list[int]:
    cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)", [n])
    return [row[0] for row in cursor.fetchall()]


_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _field(value: Any) -> str:
    """One field of COPY's text format (the bench file holds no NULs or lone surrogates)."""
    if value is None:
        return "\\N"
    return (value if isinstance(value, str) else orjson.dumps(value).decode()).translate(_ESCAPES)


def _bare_texts(cursor: Any, batch_id: int, domains: dict[str, int]) -> tuple[str, str, str]:
    """The file's rows as one COPY text per table (examples, judgments, labels), with no validation."""
    ids = iter(_ids(cursor, "routing_example", ITEMS))
    examples, judgments, labels = [], [], []
    with DATA.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            item = orjson.loads(line)
            eid = next(ids)
            examples.append(f"{eid}\t{batch_id}\t{_field(item['id'])}\t{number}\t{domains[item['domain']]}\t"
                            f"{item['task']}\t{_field(item['prompt'])}\t{_field(item['responses'])}\t"
                            f"{_field(item['metadata'])}\tf\tf\tnow\n")
            judgments += [f"{eid}\t{_field(j['judge'])}\t{_field(j['variant'])}\t{j['order']}\t{(k // 2) % 2}\t"
                          f"{j['choice']}\t{j['probability']}\t\t\t1\t0\t0\tnow\n"
                          for k, j in enumerate(item["judgments"])]
            labels += [f"{eid}\t{_field(h['annotator'])}\t{h['choice']}\timport\t\t[]\t{{}}\tnow\n"
                       for h in item["human_labels"]]
    return "".join(examples), "".join(judgments), "".join(labels)


_BARE_COPIES = (
    "COPY routing_example (id, batch_id, external_id, line_number, domain_id, task, prompt, responses, metadata, "
    "is_gold, flagged, created_at) FROM STDIN",
    'COPY routing_judgment (example_id, judge, variant, "order", sample, choice, probability, rationale, error, '
    "attempts, prompt_tokens, completion_tokens, created_at) FROM STDIN",
    "COPY reviewers_humanlabel (example_id, annotator, choice, source, rationale, flags, criteria, created_at) "
    "FROM STDIN",
)
# Text handed to each COPY at a time: large writes, without a second copy of a whole table's text.
_BLOCK_CHARS = 1 << 20


def _bare_copy(batch: str, *, unchecked: bool = False) -> tuple[float, float]:
    """(the bare COPY: the three COPY statements and the commit, with the tables' own indexes,
    foreign keys and triggers; the preparation before it: reading the file, orjson and the COPY
    text) in seconds.

    The rows are made before the clock starts, so the figure is what PostgreSQL needs to store
    them. Timing the preparation too, as this bench first did (a tuple per row for 1.2M rows, then
    psycopg's write_row for each), charged the baseline seconds of Python that the import overlaps
    with its COPYs: the "bare COPY" came out slower than the import it is the bound of."""
    domains = {p: Domain.objects.get_or_create(path=p)[0].pk for p in DOMAINS}
    batch_id = Batch.objects.create(name=batch).pk
    with transaction.atomic(), connection.cursor() as wrapper:
        cursor = wrapper.cursor
        preparing = time.monotonic()
        texts = _bare_texts(cursor, batch_id, domains)
        if unchecked:
            cursor.execute("SET LOCAL session_replication_role = replica")
        started = time.monotonic()
        for sql, text in zip(_BARE_COPIES, texts, strict=True):
            with cursor.copy(sql) as copy:
                for at in range(0, len(text), _BLOCK_CHARS):
                    copy.write(text[at:at + _BLOCK_CHARS])
    done = time.monotonic()
    return done - started, started - preparing


def _plain_role_env() -> dict[str, str]:
    """The environment of a command connecting as PLAIN_ROLE: a login role with the tables' and
    sequences' privileges only (not a superuser, no SET on session_replication_role)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [PLAIN_ROLE])
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE ROLE {PLAIN_ROLE} LOGIN NOSUPERUSER")
        cursor.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {PLAIN_ROLE}")
        cursor.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {PLAIN_ROLE}")
    s = connection.settings_dict
    url = f"postgres://{PLAIN_ROLE}@{s['HOST']}:{s['PORT'] or 5432}/{s['NAME']}"
    return {**os.environ, "DATABASE_URL": url}


def _lead_token() -> str:
    """A fresh API token of the bench's lead (the API takes tokens or a session, not Basic auth)."""
    if not User.objects.filter(username=LEAD).exists():
        factories.user(LEAD, "lead")
    return api_token_create(user=User.objects.get(username=LEAD), name="bench-ingest", expires_in_days=1).secret


def _gunicorn(port: int, queue: str, log: Path) -> subprocess.Popen[bytes]:
    """`make serve`'s web server (sync workers, 30 s timeout), queueing tasks for the bench worker."""
    # Plain HTTP on loopback: with DEBUG off the settings would redirect every request to HTTPS.
    env = {**os.environ, "CELERY_QUEUE_PREFIX": queue, "LOG_LEVEL": "WARNING", "DEBUG": "0", "SECURE_HTTPS": "0",
           "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-only-secret"}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "hybridqc.wsgi", "-b", f"127.0.0.1:{port}",
                             "--workers", "2", "--timeout", "30", "--log-level", "warning"],
                            cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    try:
        # Generous: two workers importing Django on a machine shared by other runs can take minutes.
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/accounts/login/"), timeout=GUNICORN_START_S,
                   what=f"gunicorn ({log})")
    except BaseException:  # pytest's Failed is not an Exception: the server must not outlive the bench
        proc.terminate()  # the master stops its workers (a killed master would leave them running)
        proc.wait(60)
        raise
    return proc


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _api_import(base: str, batch: str, token: str) -> tuple[int, float, float]:
    """(1 when done with every item, seconds until the 202, seconds until the job finished)."""
    auth = {"Authorization": f"Bearer {token}"}
    started = time.monotonic()
    with DATA.open("rb") as fh:
        response = httpx.post(f"{base}/api/control/batches/", headers=auth, timeout=60,
                              data={"name": batch}, files={"file": ("ingest-100k.jsonl", fh)})
    accepted = time.monotonic() - started
    if response.status_code != 202:
        return 0, accepted, accepted
    url = response.json()["url"]
    while time.monotonic() - started < JOB_TIMEOUT_S:
        body = httpx.get(url, headers=auth, timeout=10).json()
        if body["finished"]:
            return int(body["status"] == "done" and body["examples_written"] == ITEMS), accepted, \
                time.monotonic() - started
        time.sleep(1)
    return 0, accepted, time.monotonic() - started


def _api_phase(tag: str) -> tuple[int, float, float]:
    queue = f"bench-ingest-{tag}"
    queues_use(app, queue)
    token = _lead_token()
    worker = _worker(queue, f"bench-ingest-{tag}", ROOT / f"var/bench-ingest-worker-{tag}.log")
    port = _free_port()
    server = None
    try:
        server = _gunicorn(port, queue, ROOT / f"var/bench-ingest-gunicorn-{tag}.log")
        return _api_import(f"http://127.0.0.1:{port}", f"{PREFIX}api-{tag}", token)
    finally:
        # Killed, not stopped: a warm shutdown would first route the 100k items it just imported.
        # Also when gunicorn never answered: the worker must not outlive the bench.
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
        if server is not None:
            server.terminate()
            server.wait(30)
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(queue)


def run() -> dict[str, float]:
    items_file(DATA)
    _cleanup()
    tag = uuid.uuid4().hex[:8]
    # Best of two rounds, interleaved: the machine is shared, and the better round of each is the
    # one less disturbed by other processes (as timeit takes the minimum).
    imports, copies, unchecked = [], [], []
    for round_ in range(ROUNDS):
        imports.append(_import_subprocess(f"{PREFIX}cmd-{tag}-{round_}"))
        copies.append(_bare_copy(f"{PREFIX}copy-{tag}-{round_}"))
        unchecked.append(_bare_copy(f"{PREFIX}unchecked-{tag}-{round_}", unchecked=True))
    import_s, command_s, _ = min(imports)
    rss_mb = max(rss for _, _, rss in imports)
    copy_s, prepare_s = min(copies)
    unchecked_s = min(unchecked)[0]
    checked_s = _import_subprocess(f"{PREFIX}checked-{tag}", env=_plain_role_env())[0]
    api_ok, api_accept_s, api_total_s = _api_phase(tag)
    _cleanup()
    return {
        "ingest_rows_per_s_100k": round(ITEMS / import_s, 1),
        "ingest_import_100k_s": round(import_s, 2),
        "ingest_command_wall_100k_s": round(command_s, 2),
        "ingest_copy_100k_s": round(copy_s, 2),
        "ingest_copy_prepare_s": round(prepare_s, 2),
        "ingest_fraction_of_copy": round(copy_s / import_s, 3),
        "ingest_copy_unchecked_100k_s": round(unchecked_s, 2),
        "ingest_fraction_of_unchecked_copy": round(unchecked_s / import_s, 3),
        "ingest_rows_per_s_100k_row_checks": round(ITEMS / checked_s, 1),
        "ingest_peak_rss_mb_100k": round(rss_mb, 1),
        "api_import_100k_ok": api_ok,
        "api_import_100k_accept_s": round(api_accept_s, 2),
        "api_import_100k_total_s": round(api_total_s, 2),
    }
