"""`manage.py backtest FILE.jsonl [FILE ...]`: certified routing vs every candidate score and
random routing on labeled format-v1 files, on the same splits.

``--history FILE ...`` trains on those files and calibrates and tests on the given ones;
``--leave-one-source-out PREFIX ...`` holds out each source in turn (its items are calibration
and test, every other item is history) and prints ``{"sources": [...]}``. Reads the files only
(no database): the same parsing and feature code as live routing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from routing.ingest.import_v1 import ImportValidationError
from routing.training.backtest import (
    CALIBRATION_FRACTION,
    LabeledItem,
    backtest_items,
    backtest_sources,
    backtest_transfer,
    labeled_items,
)


class Command(BaseCommand):
    help = "Backtest the certified router on a format-v1 file with human labels."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", type=Path, nargs="+", metavar="FILE")
        parser.add_argument("--history", type=Path, nargs="+", default=[], metavar="FILE",
                            help="train on these files; calibrate and test on FILE")
        parser.add_argument("--leave-one-source-out", nargs="+", default=[], metavar="PREFIX",
                            help="hold out each domain prefix in turn (string prefix of the domain)")
        parser.add_argument("--alpha", type=float, default=0.10, help="1 - target agreement (default 0.10)")
        parser.add_argument("--delta", type=float, default=0.10, help="1 - confidence (default 0.10)")
        parser.add_argument("--calibration-fraction", type=float, default=CALIBRATION_FRACTION,
                            help=f"share of items for calibration (default {CALIBRATION_FRACTION}; test is 0.4)")
        parser.add_argument("--splits", type=int, default=200)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **opts: Any) -> None:
        if not 0 < opts["alpha"] < 1 or not 0 < opts["delta"] < 1:
            raise CommandError("alpha and delta must be between 0 and 1")
        if opts["splits"] < 1:
            raise CommandError("--splits must be at least 1")
        if opts["history"] and opts["leave_one_source_out"]:
            raise CommandError("use --history or --leave-one-source-out, not both")
        try:
            result = self._run(opts)
        except OSError as exc:
            raise CommandError(f"cannot read {exc.filename}: {exc.strerror}") from exc
        except ImportValidationError as exc:
            raise CommandError(f"{exc}: " + "; ".join(str(e) for e in exc.errors[:5])) from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if opts["json"]:
            self.stdout.write(json.dumps(result))
            return
        for row in result.get("sources", [result]):
            self._table(row)

    @staticmethod
    def _read(paths: list[Path]) -> tuple[list[LabeledItem], int]:
        items: list[LabeledItem] = []
        tied = 0
        for path in paths:
            found, t = labeled_items(path.read_text(encoding="utf-8").splitlines())
            items += found
            tied += t
        return items, tied

    def _run(self, opts: dict[str, Any]) -> dict[str, Any]:
        options = {"alpha": opts["alpha"], "delta": opts["delta"], "splits": opts["splits"],
                   "calibration_fraction": opts["calibration_fraction"], "seed": opts["seed"]}
        items, tied = self._read(opts["files"])
        if opts["leave_one_source_out"]:
            return backtest_sources(items, opts["leave_one_source_out"], **options)
        if opts["history"]:
            history, _ = self._read(opts["history"])
            return {**backtest_transfer(items, history, **options), "left_out_tied_reference": tied}
        return backtest_items(items, tied=tied, **options)

    def _table(self, r: dict[str, Any]) -> None:
        source = f"{r['source']}: " if "source" in r else ""
        tied = r.get("left_out_tied_reference", 0)
        self.stdout.write(f"{source}{r['items']} items ({tied} left out: tied reference), "
                          f"{r['splits']} splits, alpha {r['alpha']}, delta {r['delta']}, fractions {r['fractions']}")
        self.stdout.write(f"chosen scores: {r['chosen_scores']}")
        self.stdout.write(f"{'procedure':<22}{'coverage':>10}{'kept agr.':>11}{'held':>8}")
        rows = [("router", r), *r["baselines"].items()]
        for name, row in rows:
            agr = "-" if row["kept_agreement"] is None else f"{row['kept_agreement']:.3f}"
            self.stdout.write(f"{name:<22}{row['coverage']:>10.3f}{agr:>11}{row['guarantee_held']:>8.3f}")
