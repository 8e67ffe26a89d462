"""`manage.py router_train`: train the learned router on the labeled history and activate it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from routing.services.router_training import RouterTrainingError, router_train


class Command(BaseCommand):
    help = "Train (and activate) a new router version on every example with a human reference."

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
            f"threshold {cert.get('threshold')} (guarantee {cert.get('guarantee')})"
        )
