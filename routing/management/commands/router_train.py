"""`manage.py router_train`: train the learned router on the labeled history; it becomes active
unless it routes worse than the active one (``routing.training.router_promotion``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from routing.training.router_promotion import promotion_summary
from routing.training.router_training import RouterTrainingError, router_train


class Command(BaseCommand):
    help = ("Train a new router version on every example with a human reference; it is activated "
            "unless it keeps less than the active one on recent labels.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            model = router_train(seed=opts["seed"])
        except RouterTrainingError as exc:
            raise CommandError(str(exc)) from exc
        m, cert = model.metrics, model.calibration.get("default", {})
        self.stdout.write(
            f"router v{model.version}: trained on {model.n_train}, held out {model.n_calibration}; "
            f"AUROC {m.get('auroc')}, ECE {m['ece']:.3f}, Brier {m['brier']:.3f}; "
            f"threshold {cert.get('threshold')} (guarantee {cert.get('guarantee')})\n{promotion_summary(model)}"
        )
