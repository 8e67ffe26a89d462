"""The item search on one 100k-example batch (bench_scale's ``100k`` fixture): the query plan of
page 1 per filter, and its time through the test client (median of 5 after a warm-up).
Run: ``DATABASE_URL=postgres://.../<name> python bench/explain_items.py`` (builds ``<name>_100k``
the first time, as bench/bench_scale.py does)."""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hybridqc.settings")
django.setup()

from django.db import connection  # noqa: E402 - after django.setup()
from django.http import QueryDict  # noqa: E402

from bench import bench_scale  # noqa: E402
from dashboard.filters_items import ItemFilter  # noqa: E402
from routing.batches.models import Batch  # noqa: E402
from routing.decisions.models import RoutingDecision  # noqa: E402

QUERIES = ["", "route=human", "domain=bench/d1", "agreement=disagree", "agreement=unreviewed",
           "reviewer=1", "text=Question 99999", "score_min=0.2&score_max=0.9"]


def main() -> None:
    bench_scale._database_use(connection.settings_dict["NAME"] + "_100k")
    bench_scale._fixture_ensure(1, 100_000)
    client = bench_scale._lead_client()
    batch = Batch.objects.get(source_name=bench_scale.SOURCE)
    for query in QUERIES:
        full = f"batch={batch.pk}&{query}"
        qs = ItemFilter(QueryDict(full), queryset=RoutingDecision.objects.select_related(
            "example__batch", "example__domain")).qs[:51]
        plan = qs.explain(analyze=True)
        client.get(f"/control/items/?{full}", secure=True)
        times = []
        for _ in range(5):
            started = time.perf_counter()
            status = client.get(f"/control/items/?{full}", secure=True).status_code
            times.append((time.perf_counter() - started) * 1000)
        last = plan.strip().splitlines()[-1]
        print(f"{query or '(batch only)'}: HTTP {status}, median {statistics.median(times):.0f} ms; {last}")
        if os.environ.get("PLANS"):
            print(plan)


if __name__ == "__main__":
    main()
