import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.selectors import batch_report
from routing.batches.models import Batch


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


class Command(BaseCommand):
    help = "Print a batch's source ratios, audit agreement and override rate (--json for scripts)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("batch")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        batch = Batch.objects.filter(name=opts["batch"]).first()
        if batch is None:
            raise CommandError(f"no batch named {opts['batch']!r}")
        report = batch_report(batch)
        if opts["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        ci = report["audit_agreement_ci"]
        lines = [
            f"batch            {report['batch']} ({report['status']})",
            f"examples         {report['examples']}",
            f"judge only       {report['judge_only']} ({_pct(report['judge_only_share'])}; kept, not audited)",
            f"judge-kept       {report['judge_kept']} ({_pct(report['judge_kept_share'])})",
            f"routed to human  {report['routed_to_human']} ({_pct(report['routed_to_human_share'])})",
            f"audited          {report['audited']} ({_pct(report['audited_share'])})",
            f"human work done  {report['human_done']}/{report['human_tasks']}",
            f"audit agreement  {_pct(report['audit_agreement'])} (n={report['audit_agreement_n']}"
            + (f", effective n {report['audit_agreement_n_eff']:.1f}, 95% CI {ci[0]:.1%}-{ci[1]:.1%})" if ci else ")"),
            f"override rate    {_pct(report['override_rate'])} (n={report['override_rate_n']})",
        ]
        self.stdout.write("\n".join(lines))
