"""Format v1 import: validate every line first (import_validation), then write all of it in one transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.db import transaction

from routing.models import Batch, Domain, Example, Judgment

from .import_rules import validate_item
from .import_validation import ImportValidationError, LineError, parse_lines

__all__ = [
    "ImportResult", "ImportValidationError", "LabelsStore", "LineError", "batch_import", "parse_lines", "validate_item",
]


@dataclass
class ImportResult:
    batch: Batch
    created: int = 0
    skipped: int = 0
    judgments: int = 0
    human_labels: int = 0


class LabelsStore(Protocol):
    """Stores the imported human labels of new examples; returns how many. Labels are the
    reviewers app's rows, which routing may not import: the caller passes the writer in
    (``hybridqc.flows.imports`` passes ``reviewers.services.import_labels_create``)."""

    def __call__(self, *, labels: Sequence[tuple[Example, Sequence[dict[str, Any]]]]) -> int: ...


def _domains_for(items: list[tuple[int, dict[str, Any]]]) -> dict[str, Domain]:
    paths = {item["domain"].strip() for _, item in items}
    existing = {d.path: d for d in Domain.objects.filter(path__in=paths)}
    missing = [Domain(path=p) for p in sorted(paths - set(existing))]
    Domain.objects.bulk_create(missing, ignore_conflicts=True)
    return {d.path: d for d in Domain.objects.filter(path__in=paths)}


def _example_from(batch: Batch, number: int, item: dict[str, Any], domain: Domain) -> Example:
    scale = item.get("scale") or {}
    return Example(
        batch=batch,
        external_id=item["id"],
        line_number=number,
        domain=domain,
        task=item["task"],
        prompt=item["prompt"],
        responses=item["responses"],
        scale_min=scale.get("min"),
        scale_max=scale.get("max"),
        metadata=item.get("metadata", {}),
    )


def _judgment_from(example: Example, j: dict[str, Any]) -> Judgment:
    return Judgment(
        example=example,
        judge=j["judge"],
        variant=j.get("variant", ""),
        order=j.get("order", "ab"),
        choice=j.get("choice"),
        rating=j.get("rating"),
        scores=j.get("scores"),
        probability=j.get("probability"),
        rationale=j.get("rationale", ""),
        error="" if (j.get("choice") is not None or j.get("rating") is not None) else "no usable verdict",
    )


def _sample_numbers(judgments: list[dict[str, Any]]) -> list[int]:
    # The same judge/variant/order may appear several times (samples): number them.
    counts: dict[tuple[str, str, str], int] = {}
    numbers = []
    for j in judgments:
        key = (j["judge"], j.get("variant", ""), j.get("order", "ab"))
        numbers.append(counts.get(key, 0))
        counts[key] = counts.get(key, 0) + 1
    return numbers


def batch_import(
    *, batch_name: str, lines: Iterable[str | bytes], labels_store: LabelsStore, source_name: str = "",
    user: Any = None, **batch_fields: Any
) -> ImportResult:
    """Validate a whole format-v1 file, then create the batch, examples, judgments and labels.

    A file with any bad line raises ImportValidationError and writes nothing. Ids already in
    the batch are skipped, so re-importing a file creates no duplicates. The labels are written
    by ``labels_store`` inside the same transaction.
    """
    items = parse_lines(lines)
    with transaction.atomic():
        batch, _ = Batch.objects.get_or_create(
            name=batch_name,
            defaults={"source_name": source_name, "created_by": user, **batch_fields},
        )
        existing = set(batch.examples.values_list("external_id", flat=True))
        fresh = [(n, it) for n, it in items if it["id"] not in existing]
        result = ImportResult(batch=batch, skipped=len(items) - len(fresh))
        domains = _domains_for(fresh) if fresh else {}
        examples = Example.objects.bulk_create(
            [_example_from(batch, n, it, domains[it["domain"].strip()]) for n, it in fresh]
        )
        judgments: list[Judgment] = []
        for example, (_, item) in zip(examples, fresh, strict=True):
            raw = item.get("judgments", [])
            for j, sample in zip(raw, _sample_numbers(raw), strict=True):
                judgment = _judgment_from(example, j)
                judgment.sample = sample
                judgments.append(judgment)
        Judgment.objects.bulk_create(judgments, batch_size=2000)
        labels = [(ex, it.get("human_labels", [])) for ex, (_, it) in zip(examples, fresh, strict=True)]
        result.human_labels = labels_store(labels=labels)
        if not batch.primary_judge and judgments:
            batch.primary_judge = judgments[0].judge
            batch.save(update_fields=["primary_judge"])
        result.created, result.judgments = len(examples), len(judgments)
    return result
