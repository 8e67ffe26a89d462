"""`make backtests`: the router's acceptance matrix on the project's data, into bench/backtests.json.

alpha 0.15, delta 0.1, 200 splits, calibration fraction 0.35 and 0.5: each file on its own, and both
with every source held out in turn. Per case: the router's coverage and guarantee held, the best
other candidate on the same splits (random routing excluded: it matches the router's coverage by
construction), and whether the router is within 0.01 of it with held >= 0.90."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hybridqc.settings")
SOURCES = ["llmbar/natural", "llmbar/adversarial", "mtbench", "pandalm"]
OPTIONS = {"alpha": 0.15, "delta": 0.1, "splits": 200, "seed": 0}


def _case(name: str, r: dict) -> dict:
    rivals = {k: v for k, v in r["baselines"].items() if k != "random"}
    best = max(rivals, key=lambda k: rivals[k]["coverage"])
    ok = r["coverage"] >= rivals[best]["coverage"] - 0.01 and r["guarantee_held"] >= 0.90
    return {"case": name, "router_coverage": r["coverage"], "router_held": r["guarantee_held"],
            "chosen_scores": r["chosen_scores"], "best_other": best, "best_other_coverage": rivals[best]["coverage"],
            "best_other_held": rivals[best]["guarantee_held"], "meets_target": ok}


def main() -> int:
    import django

    django.setup()
    from routing.router.backtest import backtest_items, backtest_sources, labeled_items

    files = {name: labeled_items((ROOT / "data" / f"{name}.jsonl").read_text().splitlines()) for name in
             ("llmbar", "pandalm")}
    cases = []
    for fraction in (0.35, 0.5):
        for name, (items, tied) in files.items():
            r = backtest_items(items, tied=tied, calibration_fraction=fraction, **OPTIONS)
            cases.append(_case(f"{name} cal {fraction}", r))
            print(json.dumps(cases[-1]), flush=True)
        both = files["llmbar"][0] + files["pandalm"][0]
        for r in backtest_sources(both, SOURCES, calibration_fraction=fraction, **OPTIONS)["sources"]:
            cases.append(_case(f"leave out {r['source']} cal {fraction}", r))
            print(json.dumps(cases[-1]), flush=True)
    out = {"options": OPTIONS, "cases": cases, "met": sum(c["meets_target"] for c in cases), "of": len(cases)}
    (ROOT / "bench" / "backtests.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
