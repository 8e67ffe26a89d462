"""The live-judge panel of a batch: choose a judge configuration, watch its run (htmx)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from hybridqc.http import HtmxHttpRequest, render_htmx
from hybridqc.roles import lead_required
from routing.batches.models import Batch
from routing.decisions.selectors import batch_judge_coverage
from routing.judging.models import JudgeConfig, JudgeRun
from routing.judging.selectors import (
    batch_judge_tokens,
    batch_judge_unit_tokens,
    judge_configs_active,
    judge_run_errors,
    judge_run_latest,
)
from routing.judging.services import ACTIVE_RUN


class JudgeConfigChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: JudgeConfig) -> str:  # type: ignore[override]
        return f"{obj.key} · {obj.model}"


class JudgeRunStartForm(forms.Form):
    judge_config = JudgeConfigChoice(
        queryset=JudgeConfig.objects.none(), empty_label=None, label="Judge configuration",
        error_messages={"invalid_choice": "Choose an active judge configuration."},
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["judge_config"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = judge_configs_active()


def judge_panel_render(request: HtmxHttpRequest, batch: Batch, form: JudgeRunStartForm, *, error: str = "",
                       status: int = 200, confirm: dict[str, Any] | None = None) -> HttpResponse:
    """The panel (its partial for htmx, the page otherwise); ``confirm`` is the context of a
    re-judge's confirmation step (``templates/_confirm.html``), shown in place of the start form."""
    run = judge_run_latest(batch)
    active = run is not None and run.status in ACTIVE_RUN
    context = {
        "batch": batch, "form": form, "run": run, "active": active, "error": error,
        "percent": _percent(run), "errors": judge_run_errors(run) if run else [],
        "tokens": batch_judge_tokens(batch), "unit_tokens": batch_judge_unit_tokens(batch),
        "coverage": batch_judge_coverage(batch), **(confirm or {}),
    }
    return render_htmx(request, "routing/judge_panel.html", "panel", context, status=status)


def _percent(run: JudgeRun | None) -> int:
    if run is None or not run.total:
        return 0
    return min(100, round(100 * (run.done + run.failed) / run.total))


@lead_required
@require_GET
def judge_panel(request: HtmxHttpRequest, batch_id: int) -> HttpResponse:
    """The panel (polled while a run is active). Starting a run re-routes the batch, so its form
    posts to the confirmation step (``dashboard.views_judge``), which previews it first."""
    batch = get_object_or_404(Batch, pk=batch_id)
    return judge_panel_render(request, batch, JudgeRunStartForm())
