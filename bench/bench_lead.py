"""Release lead's figures at scale: ``trends --json`` over 100 batches x 1,000 examples (dated
over 25 months) and the peak memory of exporting one 100k-example batch, each in its own fixture
database built in SQL by ``bench_scale``'s statements (the batch dates set after). Run alone:
``python bench/run.py lead``."""

from __future__ import annotations

import datetime
import io
import os
import subprocess
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection

from bench import bench_scale
from reviewers.models import HumanLabel, ReviewerProfile
from routing.batches.models import Batch, Domain, Example

TRENDS = (100, 1000)
EXPORT = (1, 100_000)
RUNS = 3


def _dated_fixture(batches: int, size: int) -> None:
    """bench_scale's fixture layout (its examples, judgments, decisions, tasks and labels SQL),
    its batches created here with a date each: four a month from January 2025. Built once."""
    if Batch.objects.filter(source_name=bench_scale.SOURCE).count() == batches \
            and Example.objects.count() == batches * size and HumanLabel.objects.exists():
        return
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Batch._meta.db_table} CASCADE")
    for i in range(4):
        Domain.objects.get_or_create(path=f"bench/d{i}")
    Batch.objects.bulk_create([
        Batch(name=f"scale-{g:04d}", status="ready", source_name=bench_scale.SOURCE, judge_backend="recorded",
              primary_judge="bench-judge", routing_mode="threshold", confidence_threshold=0.8, audit_rate=0.05,
              audit_min_per_domain=30, alpha=0.1, delta=0.1, seed=0,
              date=datetime.date(2025 + (g - 1) // 48, (g - 1) // 4 % 12 + 1, 1 + 7 * (g % 4)))
        for g in range(1, batches + 1)])
    user, _ = User.objects.get_or_create(username="scale-reviewer")
    profile, _ = ReviewerProfile.objects.get_or_create(user=user)
    # Review tasks have a public id now (unique): one from the example id.
    tasks = bench_scale._TASKS_SQL.replace("skip_reason)", "skip_reason, public_id)").replace(
        "END, ''\nFROM", "END, '', 'b' || lpad(d.example_id::text, 15, '0')\nFROM")
    statements = (bench_scale._EXAMPLES_SQL, bench_scale._JUDGMENTS_SQL, bench_scale._DECISIONS_SQL, tasks,
                  bench_scale._LABELS_SQL)
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql, {"size": size, "reviewer": profile.pk})
        cursor.execute("VACUUM ANALYZE")


def trends_seconds() -> float:
    """Median wall time of ``trends --json`` (by month) over the 100 x 1,000 fixture."""
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        with redirect_stdout(io.StringIO()):
            call_command("trends", "--json")
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def export_peak_rss_mb(db: str, fmt: str) -> float:
    """Peak RSS (``/usr/bin/time``'s maximum resident set) of a separate ``export_batch``
    process writing the 100k batch to a file."""
    root = Path(__file__).resolve().parent.parent
    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + db
    command = ["/usr/bin/time", "-f", "maxrss %M", sys.executable, str(root / "manage.py"), "export_batch",
               "scale-0001", "--format", fmt, "-o", "/tmp/bench-lead-export", "--confirm-unreleased"]
    done = subprocess.run(command, check=True, capture_output=True, text=True, env={**os.environ, "DATABASE_URL": url})
    line = next(x for x in done.stderr.splitlines() if x.startswith("maxrss "))
    return int(line.split()[1]) / 1024


def run() -> dict[str, Any]:
    base = connection.settings_dict["NAME"]
    try:
        bench_scale._database_use(f"{base}_lead_trends")
        _dated_fixture(*TRENDS)
        out: dict[str, Any] = {"lead_trends_100x1000_s": round(trends_seconds(), 3)}
        bench_scale._database_use(f"{base}_100k")
        _dated_fixture(*EXPORT)
        for fmt in ("jsonl", "csv", "parquet", "preference"):
            out[f"lead_export_100k_{fmt}_peak_rss_mb"] = round(export_peak_rss_mb(f"{base}_100k", fmt), 1)
    finally:
        # Closed first: the open connection would otherwise stay on the fixture database, and the
        # benches after this one (review's sessions) would write there while their servers read the base.
        connection.close()
        connection.settings_dict["NAME"] = base
    return out
