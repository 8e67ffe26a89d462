from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewers.services import batch_gold_from_labels
from routing.batches.models import Batch


class Command(BaseCommand):
    help = "Mark a batch's examples whose answer is known (human labels agree) as gold items."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("batch", help="batch name")
        parser.add_argument(
            "--from-labels",
            action="store_true",
            required=True,
            help="take the answer from the examples' human labels (majority or adjudicator)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        batch = Batch.objects.filter(name=opts["batch"]).first()
        if batch is None:
            raise CommandError(f"no batch named {opts['batch']!r}")
        n = batch_gold_from_labels(batch=batch)
        self.stdout.write(f"{n} examples of {batch.name} marked as gold")
