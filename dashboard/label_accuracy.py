"""The share of correct labels a batch will put into training, with a 95% interval.

Human labels count as correct as reviewed. Judge-only labels (kept, not audited) are estimated
by prediction-powered inference (Angelopoulos et al., Science 2023): the judge's own confidence
predicts whether each label is right, and the reviewed audits, weighted by 1 / their inclusion
probability, correct that prediction's bias. ``ppi_python`` implements the same mean estimator
but pulls in numba, pandas, statsmodels and gdown; the estimator is a few lines on scipy."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from django.conf import settings
from scipy.stats import norm

from routing.batches.models import Batch
from routing.decisions.models import RoutingDecision
from routing.monitoring.metrics import labels_agree
from routing.monitoring.models import Alarm

from .alarms import batch_open_alarms
from .trends import reviewed_references


class Estimate(NamedTuple):
    value: float
    low: float
    high: float


def _weighted_mean_var(values: Sequence[float], weights: Sequence[float]) -> tuple[float, float]:
    """Hájek mean and the variance of that mean (weighted variance over Kish's effective n)."""
    total = sum(weights)
    mean = sum(w * v for w, v in zip(weights, values, strict=True)) / total
    n_eff = total * total / sum(w * w for w in weights)
    spread = sum(w * (v - mean) ** 2 for w, v in zip(weights, values, strict=True)) / total
    return mean, spread / n_eff * (n_eff / (n_eff - 1) if n_eff > 1 else 1.0)


def ppi_mean(
    labeled: Sequence[float], predicted: Sequence[float], weights: Sequence[float],
    unlabeled_predicted: Sequence[float], level: float = 0.95,
) -> Estimate:
    """PPI estimate of the mean outcome over the unlabeled items: their mean prediction plus the
    weighted mean residual (outcome - prediction) on the labeled ones, with a normal interval
    from both variances. Needs at least one labeled and one unlabeled item."""
    if not labeled or not unlabeled_predicted:
        raise ValueError("ppi_mean needs labeled and unlabeled items")
    n = len(unlabeled_predicted)
    f_mean = sum(unlabeled_predicted) / n
    f_var = sum((f - f_mean) ** 2 for f in unlabeled_predicted) / max(n - 1, 1) / n
    residuals = [y - f for y, f in zip(labeled, predicted, strict=True)]
    rectifier, r_var = _weighted_mean_var(residuals, weights)
    value = f_mean + rectifier
    half = float(norm.ppf(0.5 + level / 2)) * math.sqrt(f_var + r_var)
    return Estimate(value, value - half, value + half)


def label_accuracy(*, human: int, judge_only_predicted: Sequence[float], audit_correct: Sequence[bool],
                   audit_predicted: Sequence[float], audit_weights: Sequence[float]) -> Estimate | None:
    """Share of correct labels among ``human`` reviewed labels (correct as reviewed) and the
    judge-only ones; None when judge-only labels exist but no audit was reviewed yet."""
    total = human + len(judge_only_predicted)
    if not total:
        return None
    if not judge_only_predicted:
        return Estimate(1.0, 1.0, 1.0)
    if not audit_correct:
        return None
    judge = ppi_mean([float(c) for c in audit_correct], audit_predicted, audit_weights, judge_only_predicted)
    j = len(judge_only_predicted)

    def mix(x: float) -> float:
        return min(1.0, max(0.0, (human + j * x) / total))

    return Estimate(mix(judge.value), mix(judge.low), mix(judge.high))


def _prediction(confidence: float | None) -> float:
    # No confidence stored: predict 0, which turns PPI into the plain weighted audit mean.
    return 0.0 if confidence is None else min(1.0, max(0.0, confidence))


def batch_label_accuracy(batch: Batch) -> Estimate | None:
    """From stored rows: reviewed references, audits (with inclusion probabilities) and the
    judge's confidence on every judge-only item."""
    decisions = RoutingDecision.objects.filter(example__batch=batch)
    reference = reviewed_references(decisions.filter(audit=True) | decisions.filter(route="human"))
    audits = list(decisions.filter(audit=True, example_id__in=list(reference)).values_list(
        "example_id", "example__task", "judge_verdict", "judge_rating", "confidence", "audit_probability"))
    unweighted = any(a[5] is None for a in audits)
    correct, predicted, weights = [], [], []
    for example_id, task, verdict, rating_value, confidence, p in audits:
        agree = labels_agree(task, reference[example_id], rating_value if task == "rating" else verdict)
        if agree is not None:
            correct.append(agree)
            predicted.append(_prediction(confidence))
            weights.append(1.0 if unweighted or p is None else 1 / p)
    judge_only = decisions.filter(route="judge", audit=False).values_list("confidence", flat=True)
    return label_accuracy(human=len(reference), judge_only_predicted=[_prediction(c) for c in judge_only],
                          audit_correct=correct, audit_predicted=predicted, audit_weights=weights)


def label_gate_reasons(report: dict[str, Any], alarms: list[Alarm] | None = None) -> list[str]:
    """The gate's extra reasons: estimated label accuracy's lower bound below the configured
    minimum, and any open alarm on the batch's domains (``alarms`` when the caller has them)."""
    reasons = []
    minimum = settings.RELEASE_MIN_LABEL_ACCURACY
    ci = report.get("estimated_label_accuracy_ci")
    if minimum and (ci is None or ci[0] < minimum):
        shown = "unmeasured" if ci is None else f"{ci[0]:.1%}"
        reasons.append(f"estimated label accuracy lower bound {shown} is below the minimum {minimum:.0%}")
    if alarms is None:
        batch = Batch.objects.filter(name=report.get("batch")).first()
        alarms = batch_open_alarms(batch) if batch else []
    for alarm in alarms:
        reasons.append(f"open alarm on {alarm.domain}: {alarm.get_kind_display()} ({alarm.period})")
    return reasons
