"""``python manage.py fake_judge_server --port 8765 --latency-ms 200 --replay data/llmbar.jsonl``."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from routing.judging.fake_judge.cli import add_arguments, run


class Command(BaseCommand):
    help = "Serve a fake OpenAI-compatible judge on 127.0.0.1 (latency, faults, logprobs, replay)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        run(argparse.Namespace(**options))
