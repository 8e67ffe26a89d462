import argparse
import datetime
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hybridqc.flows.imports import batch_import
from hybridqc.flows.tasks import batch_pipeline_run
from hybridqc.queueing import BROKER_DOWN, enqueue_failed_message
from routing.batches.models import Batch
from routing.ingest.import_v1 import ImportValidationError
from routing.ingest.import_validation import upload_size_problem


def _iso_date(raw: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--date: {raw!r} is not a date (YYYY-MM-DD)") from exc


class Command(BaseCommand):
    help = "Import a format-v1 JSONL file into a batch and start its pipeline (judge, route, assign)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--batch", required=True, help="batch name (created if new)")
        parser.add_argument("--threshold", type=float, default=None, help="confidence threshold (new batch)")
        parser.add_argument("--audit-rate", type=float, default=None,
                            help=f"audit share of judge-kept items (new batch; default {Batch.DEFAULT_AUDIT_RATE})")
        parser.add_argument("--date", type=_iso_date, default=None,
                            help="the day the batch stands for, YYYY-MM-DD (new batch; default today)")
        parser.add_argument("--no-pipeline", action="store_true", help="import only; do not route")

    def handle(self, *args: Any, **opts: Any) -> None:
        path: Path = opts["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        if problem := upload_size_problem(path.stat().st_size):
            raise CommandError(f"{path.name}: {problem} (IMPORT_MAX_UPLOAD_BYTES)")
        fields = {k: v for k, v in (("confidence_threshold", opts["threshold"]),
                                    ("audit_rate", opts["audit_rate"]), ("date", opts["date"])) if v is not None}
        started = time.monotonic()
        try:
            with path.open("rb") as fh:
                result = batch_import(batch_name=opts["batch"], lines=fh, source_name=path.name, **fields)
        except ImportValidationError as exc:
            for error in exc.errors[:200]:
                self.stderr.write(f"{path.name}: {error}")
            if len(exc.errors) > 200:
                self.stderr.write(f"... and {len(exc.errors) - 200} more")
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"batch {result.batch.name}: {result.created} examples imported, {result.skipped} already present, "
            f"{result.judgments} judgments, {result.human_labels} human labels "
            f"in {time.monotonic() - started:.2f} s"
        )
        if not opts["no_pipeline"]:
            try:
                batch_pipeline_run.delay_on_commit(result.batch.pk)
            except BROKER_DOWN as exc:
                raise CommandError(enqueue_failed_message(f"Batch {result.batch.name}")) from exc
            self.stdout.write("pipeline queued")
