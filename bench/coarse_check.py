"""`make coarse-check`: the router's coarse-judgment rule (``selection.coarse_judge_scores``) on
data it was not designed on, into bench/coarse_check.json.

The rule was written looking at pandalm (1 verdict per item) and MT-Bench (4). Here LLMBar's
natural and adversarial items of data/llmbar.jsonl (30 verdicts each: 15 prompt variants x 2
answer orders; MT-Bench's items are left out) are made coarse: for k in KS each item keeps k of its
judgments, the first k of one random permutation per item (numpy ``default_rng(SEED)`` over the
items in file order, so the k=1 subset is inside the k=2 one and so on), kept in file order and
without probabilities or log-probabilities, so the rule triggers on every target item.

Every case runs the matrix's backtest (``backtest_matrix.OPTIONS``, calibration fraction 0.35 and
0.5): in-file (the coarse items alone), and each LLMBar source left out as the matrix does, its
history being every other item of both files, with the other LLMBar source coarse too ("coarse
history") or as recorded ("fine history": the case the rule argues cross-validation misjudges).
Each runs twice on the same splits: as the router is, and with the rule disabled (cross-validation's
choice). The cases run one after another in this process: the check is not meant to load the machine.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hybridqc.settings")
KS = (1, 2, 4, 8)
SEED = 0
TARGETS = ("llmbar/natural", "llmbar/adversarial")
FRACTIONS = (0.35, 0.5)


def coarse_lines(lines: list[str], k: int, seed: int = SEED, domains: tuple[str, ...] = TARGETS) -> list[str]:
    """The items of ``lines`` whose domain starts with one of ``domains`` (LLMBar's natural and
    adversarial ones) with k judgments each (see the module docstring); every other item is dropped."""
    rng = np.random.default_rng(seed)
    out = []
    for line in lines:
        row = json.loads(line)
        if not row["domain"].startswith(domains):
            continue
        judgments = row.get("judgments", [])
        keep = sorted(rng.permutation(len(judgments))[:k].tolist())
        row["judgments"] = [{key: v for key, v in judgments[i].items() if key not in ("probability", "logprobs")}
                            for i in keep]
        out.append(json.dumps(row))
    return out


def _summaries(r: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {name: {"coverage": b["coverage"], "held": b["guarantee_held"]} for name, b in r["baselines"].items()}


def _both(run: Any) -> dict[str, Any]:
    """``run()`` as the router is and with the coarse rule disabled; the figures of both on the
    same splits, and whether each meets the matrix's target."""
    from bench.backtest_matrix import _case
    from routing.scoring import selection

    with_rule = run()
    # Disabling the rule is what is checked, so the bench replaces it here (never in the project).
    with mock.patch.object(selection, "coarse_judge_scores", return_value=False):
        without = run()
    baselines = _summaries(with_rule)
    # Random routing matches each run's router coverage; every other baseline must be the same.
    same = {n: b for n, b in _summaries(without).items() if n != "random"}
    assert same == {n: b for n, b in baselines.items() if n != "random"}, "the two runs must share their splits"
    on, off = _case("", with_rule), _case("", without)
    return {
        "with_rule": {"coverage": on["router_coverage"], "held": on["router_held"], "chosen": on["chosen_scores"],
                      "meets_target": on["meets_target"]},
        "rule_disabled": {"coverage": off["router_coverage"], "held": off["router_held"],
                          "chosen": off["chosen_scores"], "meets_target": off["meets_target"]},
        "best_other": on["best_other"], "best_other_coverage": on["best_other_coverage"],
        "rule_minus_disabled": round(on["router_coverage"] - off["router_coverage"], 4),
        "rule_minus_best_other": round(on["router_coverage"] - on["best_other_coverage"], 4),
        "baselines": baselines, "random_rule_disabled": _summaries(without)["random"],
    }


def _cases(k: int, fraction: float, raw: dict[str, list[str]]) -> list[dict[str, Any]]:
    """In-file and both leave-one-source-out cases (coarse and fine history) at k and ``fraction``."""
    from bench.backtest_matrix import OPTIONS, SOURCES
    from routing.training.backtest import backtest_items, backtest_transfer, labeled_items, source_of

    coarse, _ = labeled_items(coarse_lines(raw["llmbar"], k))
    fine = labeled_items(raw["llmbar"])[0] + labeled_items(raw["pandalm"])[0]
    options = {**OPTIONS, "calibration_fraction": fraction}
    runs = {f"k={k} in-file cal {fraction}": lambda: backtest_items(coarse, **options)}
    for target in TARGETS:
        mine = [it for it in coarse if source_of(it.item.domain, SOURCES) == target]
        for kind, pool in (("coarse", coarse), ("fine", fine)):
            history = [it for it in pool if source_of(it.item.domain, SOURCES) != target]
            if kind == "coarse":  # the rest of both files: MT-Bench and pandalm as recorded
                history += [it for it in fine if not it.item.domain.startswith(TARGETS)]
            runs[f"k={k} leave out {target} ({kind} history) cal {fraction}"] = (
                lambda m=mine, h=history: backtest_transfer(m, h, prefixes=SOURCES, **options))
    out = []
    for name, run in runs.items():
        case = {"case": name, "k": k, "calibration_fraction": fraction, **_both(run)}
        print(json.dumps({key: v for key, v in case.items() if key != "baselines"}), flush=True)
        out.append(case)
    return out


def main(ks: list[int]) -> int:
    import django

    django.setup()
    from bench.backtest_matrix import OPTIONS

    raw = {name: (ROOT / "data" / f"{name}.jsonl").read_text().splitlines() for name in ("llmbar", "pandalm")}
    cases = [case for k in ks for fraction in FRACTIONS for case in _cases(k, fraction, raw)]
    out = {"options": OPTIONS, "ks": ks, "subset": f"first k of a per-item permutation, default_rng({SEED})",
           "cases": cases, "met_with_rule": sum(c["with_rule"]["meets_target"] for c in cases),
           "met_rule_disabled": sum(c["rule_disabled"]["meets_target"] for c in cases), "of": len(cases)}
    (ROOT / "bench" / "coarse_check.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main([int(k) for k in sys.argv[1:]] or list(KS)))
