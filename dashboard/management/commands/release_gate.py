from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from dashboard.gate import batch_gate
from routing.batches.models import Batch


class Command(BaseCommand):
    help = ("Whether a batch may go to training: exit 0 (released), 1 (held: the reasons are printed) "
            "or 2 (no such batch). The control center's release gate.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("batch")

    def handle(self, *args: Any, **opts: Any) -> None:
        batch = Batch.objects.filter(name=opts["batch"]).first()
        if batch is None:
            self.stderr.write(f"no batch named {opts['batch']!r}")
            raise SystemExit(2)
        gate = batch_gate(batch)
        if gate["release"]:
            self.stdout.write(f"{batch.name}: released (target agreement {gate['target']:.0%})")
            return
        self.stdout.write(f"{batch.name}: held")
        for reason in gate["reasons"]:
            self.stdout.write(f"- {reason}")
        raise SystemExit(1)
