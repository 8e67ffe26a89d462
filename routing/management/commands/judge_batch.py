"""``python manage.py judge_batch --batch NAME --judge NAME@vN [--wait]``: start a live judge run."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from routing.batches.models import Batch
from routing.judging.judge_runs import judge_run_start
from routing.judging.models import JudgeConfig, JudgeRun
from routing.judging.services import JudgeSetupError


class Command(BaseCommand):
    help = "Judge every example of a batch with a live judge configuration (queued as chunk tasks)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", required=True, help="batch name")
        parser.add_argument("--judge", required=True, help="judge configuration key, e.g. gpt-4o@v2")
        parser.add_argument("--wait", action="store_true", help="wait for the run and print its progress")
        parser.add_argument("--timeout", type=float, default=3600, help="give up waiting after this many seconds")

    def handle(self, *args: Any, **options: Any) -> None:
        batch = Batch.objects.filter(name=options["batch"]).first()
        if batch is None:
            raise CommandError(f"no batch named {options['batch']!r}")
        name, _, version = options["judge"].rpartition("@v")
        config = JudgeConfig.objects.filter(name=name, version=int(version) if version.isdigit() else -1).first()
        if config is None:
            raise CommandError(f"no judge configuration {options['judge']!r} (expected NAME@vN)")
        try:
            run = judge_run_start(batch=batch, config=config)
        except JudgeSetupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"judge run {run.pk}: {config.key} over {batch.name}, {run.total} verdicts")
        deadline = time.monotonic() + options["timeout"]
        while options["wait"]:
            if time.monotonic() > deadline:
                raise CommandError(f"judge run {run.pk} still {run.status} after {options['timeout']:g}s")
            run.refresh_from_db()
            self.stdout.write(f"  {run.status}: {run.done} judged, {run.failed} failed of {run.total}")
            if run.status in (JudgeRun.Status.DONE, JudgeRun.Status.FAILED):
                break
            time.sleep(2)
