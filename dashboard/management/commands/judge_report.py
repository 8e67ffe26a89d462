import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from dashboard.judge_report import judge_report


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


class Command(BaseCommand):
    help = ("Judge calibration and bias per domain and judge version: accuracy against the reviewed reference, "
            "ECE and reliability bins, position, length and self-preference bias.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--domain", default=None, help="domain prefix, e.g. pandalm")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        report = judge_report(domain_prefix=opts["domain"])
        if opts["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        for g in report["groups"]:
            ece = "n/a" if g["ece"] is None else f"{g['ece']:.3f}"
            self.stdout.write(
                f"{g['domain']} [{g['judge_version']}] n={g['n']}: accuracy {_pct(g['accuracy'])}, ECE {ece}, "
                f"position bias {_pct(g['position_bias'])}, length bias {_pct(g['length_bias']['gap'])}, "
                f"self-preference {_pct(g['self_preference']['gap'])}")
