"""`make backtests`: the router's acceptance matrix on the project's data, into bench/backtests.json.

alpha 0.15, delta 0.1, 200 splits, calibration fraction 0.35 and 0.5: each file on its own, and both
with every source held out in turn. Per case: the router's coverage and guarantee held, the best
other candidate on the same splits (random routing excluded: it matches the router's coverage by
construction), and whether the router is within 0.01 of it with held >= 0.90. The runs are
independent, so they go to BACKTEST_JOBS processes (default 2)."""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hybridqc.settings")
SOURCES = ["llmbar/natural", "llmbar/adversarial", "mtbench", "pandalm"]
OPTIONS = {"alpha": 0.15, "delta": 0.1, "splits": 200, "seed": 0}
FILES = ("llmbar", "pandalm")


def _case(name: str, r: dict) -> dict:
    rivals = {k: v for k, v in r["baselines"].items() if k != "random"}
    best = max(rivals, key=lambda k: rivals[k]["coverage"])
    ok = r["coverage"] >= rivals[best]["coverage"] - 0.01 and r["guarantee_held"] >= 0.90
    return {"case": name, "router_coverage": r["coverage"], "router_held": r["guarantee_held"],
            "chosen_scores": r["chosen_scores"], "best_other": best, "best_other_coverage": rivals[best]["coverage"],
            "best_other_held": rivals[best]["guarantee_held"], "meets_target": ok}


def _run(job: tuple[str, float]) -> list[dict]:
    """One file within itself, or ("sources", fraction): every source held out in turn."""
    # Django is set up in the worker process, after the fork/spawn, not at import.
    import django

    django.setup()
    from routing.training.backtest import backtest_items, backtest_sources, labeled_items

    what, fraction = job
    files = {name: labeled_items((ROOT / "data" / f"{name}.jsonl").read_text().splitlines()) for name in FILES}
    if what in files:
        items, tied = files[what]
        return [_case(f"{what} cal {fraction}", backtest_items(items, tied=tied, calibration_fraction=fraction,
                                                                **OPTIONS))]
    both = files["llmbar"][0] + files["pandalm"][0]
    return [_case(f"leave out {r['source']} cal {fraction}", r)
            for r in backtest_sources(both, SOURCES, calibration_fraction=fraction, **OPTIONS)["sources"]]


def main() -> int:
    jobs = [(what, fraction) for fraction in (0.35, 0.5) for what in (*FILES, "sources")]
    cases = []
    with ProcessPoolExecutor(max_workers=int(os.environ.get("BACKTEST_JOBS", "2"))) as pool:
        for found in pool.map(_run, jobs):
            for case in found:
                print(json.dumps(case), flush=True)
            cases += found
    out = {"options": OPTIONS, "cases": cases, "met": sum(c["meets_target"] for c in cases), "of": len(cases)}
    (ROOT / "bench" / "backtests.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
