import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.export import lineage_export
from dashboard.export_formats import FORMATS, export_write
from dashboard.export_left_out import left_out_text
from routing.batches.models import Batch


class Command(BaseCommand):
    help = ("Export a batch with each label's lineage (source, judge, router version and certification, "
            "reviewer credential ids, timestamps) as jsonl, csv, parquet or preference pairs.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="batch name")
        parser.add_argument("--format", choices=FORMATS, default="jsonl")
        parser.add_argument("-o", "--output", type=Path, default=None, help="file to write (default: stdout)")
        parser.add_argument("--confirm-unreleased", action="store_true",
                            help="export although the release gate holds (the file says released: false)")

    def handle(self, *args: Any, **opts: Any) -> None:
        batch = Batch.objects.filter(name=opts["name"]).first()
        if batch is None:
            raise CommandError(f"no batch named {opts['name']!r}")
        export = lineage_export(batch)
        if not export.released and not opts["confirm_unreleased"]:
            raise CommandError("the release gate holds (" + "; ".join(export.gate_reasons) + "): pass "
                               "--confirm-unreleased to export anyway, marked released: false")
        written = export_write(export, opts["format"])
        # Each chunk is written as it comes: the file is never held whole.
        if opts["output"] is None:
            for chunk in written.chunks:
                sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
        else:
            with opts["output"].open("wb") as out:
                for chunk in written.chunks:
                    out.write(chunk)
        # Worded as the API's X-HybridQC-Left-Out header, so a script compares them as text.
        self.stderr.write(f"{written.rows} rows, left out: {left_out_text(written.left_out)}"
                          f"{'' if export.released else ', NOT released'}")
