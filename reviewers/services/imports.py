"""Imported human labels: verdicts of external annotators that come with a batch file."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from routing.models import Example

from ..models import HumanLabel


def import_labels_create(*, labels: Iterable[tuple[Example, Sequence[dict[str, Any]]]]) -> int:
    """Store imported human labels as labels of external annotators; returns the count."""
    rows = [
        HumanLabel(
            example=example,
            annotator=raw["annotator"],
            source=HumanLabel.Source.IMPORT,
            choice=raw.get("choice"),
            rating=raw.get("rating"),
            rationale=raw.get("rationale", ""),
        )
        for example, items in labels
        for raw in items
    ]
    HumanLabel.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    return len(rows)
