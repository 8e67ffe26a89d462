"""`manage.py backtest FILE.jsonl`: certified routing vs baselines on a labeled format-v1 file.

Reads the file only (no database): the same parsing and feature code as live routing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from routing.router.backtest import CALIBRATION_FRACTION, backtest_run
from routing.services.import_v1 import ImportValidationError


class Command(BaseCommand):
    help = "Backtest the certified router on a format-v1 file with human labels."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
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
        try:
            lines = opts["file"].read_text(encoding="utf-8").splitlines()
            result = backtest_run(lines, alpha=opts["alpha"], delta=opts["delta"], splits=opts["splits"],
                                  calibration_fraction=opts["calibration_fraction"], seed=opts["seed"])
        except OSError as exc:
            raise CommandError(f"cannot read {opts['file']}: {exc}") from exc
        except ImportValidationError as exc:
            raise CommandError(f"{exc}: " + "; ".join(str(e) for e in exc.errors[:5])) from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if opts["json"]:
            self.stdout.write(json.dumps(result))
            return
        self._table(result)

    def _table(self, r: dict[str, Any]) -> None:
        self.stdout.write(f"{r['items']} items ({r['left_out_tied_reference']} left out: tied reference), "
                          f"{r['splits']} splits, alpha {r['alpha']}, delta {r['delta']}, fractions {r['fractions']}")
        self.stdout.write(f"{'procedure':<18}{'coverage':>10}{'kept agr.':>11}{'held':>8}")
        rows = [("router", r), *r["baselines"].items()]
        for name, row in rows:
            agr = "-" if row["kept_agreement"] is None else f"{row['kept_agreement']:.3f}"
            self.stdout.write(f"{name:<18}{row['coverage']:>10.3f}{agr:>11}{row['guarantee_held']:>8.3f}")
