import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from dashboard.alarms import alarms_record, trends_payload
from dashboard.trends import PERIODS


class Command(BaseCommand):
    help = ("Per month or ISO week: examples, share routed to humans, judge-only share, audit agreement "
            "and override rate with 95% intervals, judge versions; tests for alarms first.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--by", choices=PERIODS, default="month")
        parser.add_argument("--domain", default=None, help="domain prefix, e.g. mtbench")
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--no-check", action="store_true", help="only print; raise no new alarms")

    def handle(self, *args: Any, **opts: Any) -> None:
        if not opts["no_check"]:
            alarms_record(by=opts["by"])
        payload = trends_payload(by=opts["by"], domain_prefix=opts["domain"])
        if opts["json"]:
            self.stdout.write(json.dumps(payload, indent=2))
            return
        for p in payload["periods"]:
            agreement = "n/a" if p["audit_agreement"] is None else f"{p['audit_agreement']:.3f}"
            override = "n/a" if p["override_rate"] is None else f"{p['override_rate']:.3f}"
            self.stdout.write(f"{p['period']}: {p['examples']} examples, humans {p['human_share']:.1%}, "
                              f"judge only {p['judge_only_share']:.1%}, agreement {agreement}, override {override}")
        for a in payload["alarms"]:
            self.stdout.write(f"ALARM {a['kind']} {a['period']}: {a['message']}")
