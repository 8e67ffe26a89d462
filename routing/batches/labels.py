"""What routing reads of human labels, as a port the reviewers app fills in.

Labels are the reviewers app's rows, and routing sits below it: it may not import them. Yet the
router trains on reference labels, promotion asks which examples were labeled after a champion
was trained, and the judge's few-shot variants quote labeled examples, all deep inside routing
(beat tasks included) with no caller above to pass the labels in. So routing declares here the
few reads it needs, and ``reviewers.apps`` registers the one implementation
(``reviewers.references``) when Django starts. The reference-label rule stays with the labels.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured

from routing.batches.models import Example


class LabelSource(Protocol):
    def references(self, examples: Iterable[Example]) -> dict[int, float]:
        """The human reference label per example id (examples without one are absent)."""
        ...

    def count(self) -> int:
        """How many human labels are stored."""
        ...

    def first_labeled_after(self, example_ids: Iterable[int], since: datetime) -> set[int]:
        """Of these examples, those whose first human label is later than ``since``."""
        ...


_registered: list[LabelSource] = []


def label_source_set(source: LabelSource) -> None:
    """Register the label source (the reviewers app does, in its ``ready``)."""
    _registered[:] = [source]


def label_source() -> LabelSource:
    """The registered label source; loud when none is, rather than routing on no labels."""
    if not _registered:
        raise ImproperlyConfigured("no human-label source registered: is 'reviewers' in INSTALLED_APPS?")
    return _registered[0]
