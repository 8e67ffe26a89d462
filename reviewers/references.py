"""The reference label: what the humans said of an example, by one rule.

An adjudicator's label wins when there is one; otherwise the strict majority of the human labels
(a tie is no reference). Routing's training and few-shot examples, gold marking and the batch
report all read it from here; routing reaches it through the ``routing.batches.labels`` port.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from django.db.models import Min

from routing.batches.models import Example
from routing.monitoring.metrics import majority_label

from .models import HumanLabel, ReviewTask


def label_value(label: HumanLabel, task: str) -> float | None:
    """The label's answer for an example of ``task``: its rating, else its choice."""
    return label.rating if task == Example.Task.RATING else label.choice


def label_reference(labels: Sequence[HumanLabel], task: str) -> float | None:
    """The reference of one example's labels (with their ``task`` loaded)."""
    adjudicated = [x for x in labels if x.task_id and x.task and x.task.kind == ReviewTask.Kind.ADJUDICATION]
    chosen = adjudicated[-1:] or labels
    return majority_label([v for x in chosen if (v := label_value(x, task)) is not None])


def references_of(labels: Iterable[HumanLabel], tasks: Mapping[int, str]) -> dict[int, float]:
    """Per example id of ``tasks`` (id -> task), the reference of its labels among ``labels``."""
    by_example: dict[int, list[HumanLabel]] = defaultdict(list)
    for label in labels:
        by_example[label.example_id].append(label)
    out: dict[int, float] = {}
    for example_id, rows in by_example.items():
        value = label_reference(rows, tasks[example_id])
        if value is not None:
            out[example_id] = float(value)
    return out


def example_references(examples: Iterable[Example], source: str | None = None) -> dict[int, float]:
    """The reference per example id, from every human label (imported history included) or only
    those of ``source``; examples without one are absent."""
    tasks = {e.pk: e.task for e in examples}
    labels = HumanLabel.objects.filter(example_id__in=list(tasks)).select_related("task")
    if source is not None:
        labels = labels.filter(source=source)
    return references_of(labels, tasks)


class HumanLabelSource:
    """Routing's ``LabelSource`` port, answered from the stored human labels."""

    def references(self, examples: Iterable[Example]) -> dict[int, float]:
        return example_references(examples)

    def count(self) -> int:
        return HumanLabel.objects.count()

    def first_labeled_after(self, example_ids: Iterable[int], since: datetime) -> set[int]:
        rows = (HumanLabel.objects.filter(example_id__in=list(example_ids)).values("example_id")
                .annotate(first=Min("created_at")).filter(first__gt=since).values_list("example_id", flat=True))
        return set(rows)
