"""`make bench`: run every bench/bench_*.py module's ``run()``, print `name: value` lines and
merge the figures into bench/results.json. Each module measures ratios within one run, since
timings on a shared 2-core machine are noisy."""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hybridqc.settings")
# Benches talk plain HTTP on loopback (test clients, gunicorn), as `make serve` runs locally: with
# the production default every page would answer a redirect to https://.
os.environ.setdefault("SECURE_HTTPS", "0")


def _database_ensure() -> None:
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(os.environ["DATABASE_URL"])
    with psycopg.connect(host=cfg["HOST"], port=cfg["PORT"] or 5432, user=cfg["USER"], dbname="postgres",
                         autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [cfg["NAME"]]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{cfg["NAME"]}"')


def main(selected: list[str]) -> int:
    _database_ensure()
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    results_path = ROOT / "bench" / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    modules = sorted(p.stem for p in (ROOT / "bench").glob("bench_*.py"))
    for name in modules:
        if selected and not any(s in name for s in selected):
            continue
        started = time.monotonic()
        figures = importlib.import_module(f"bench.{name}").run()
        for key, value in figures.items():
            print(f"{key}: {value}")
        results.update(figures)
        results[f"_{name}_seconds"] = round(time.monotonic() - started, 1)
        results_path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
