"""Format v1 import: validate line by line (import_validation) and write it all in one transaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import connection, transaction

from routing.batches.models import Batch, Domain, Example
from routing.ingest.import_rules import validate_item
from routing.ingest.import_validation import ImportValidationError, LineError, parse_lines, validated_items
from routing.ingest.ingest_copy import CopyCounts, copy_import
from routing.judging.models import Judgment

__all__ = [
    "ImportResult", "ImportValidationError", "LineError", "batch_import", "parse_lines", "validate_item",
]


@dataclass
class ImportResult:
    batch: Batch
    created: int = 0
    skipped: int = 0
    judgments: int = 0
    human_labels: int = 0


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


def _labels_create(labels: list[tuple[Example, list[dict[str, Any]]]]) -> int:
    # By name: routing does not import the reviewers app, which owns the label model.
    label_model = apps.get_model("reviewers", "HumanLabel")
    rows = [
        label_model(example=example, annotator=raw["annotator"], source="import", choice=raw.get("choice"),
                    rating=raw.get("rating"), rationale=raw.get("rationale", ""))
        for example, items in labels
        for raw in items
    ]
    label_model.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    return len(rows)


def _orm_import(batch: Batch, items: list[tuple[int, dict[str, Any]]]) -> CopyCounts:
    """The simple path (SQLite, the demo): every item in memory, written with bulk_create."""
    existing = set(batch.examples.values_list("external_id", flat=True))
    fresh = [(n, it) for n, it in items if it["id"] not in existing]
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
    labels = _labels_create([(ex, it.get("human_labels", [])) for ex, (_, it) in zip(examples, fresh, strict=True)])
    if not batch.primary_judge and judgments:
        batch.primary_judge = judgments[0].judge
        batch.save(update_fields=["primary_judge"])
    return CopyCounts(created=len(examples), skipped=len(items) - len(fresh), judgments=len(judgments),
                      human_labels=labels)


def batch_import(
    *, batch_name: str, lines: Iterable[str | bytes], source_name: str = "",
    user: Any = None, **batch_fields: Any
) -> ImportResult:
    """Validate a format-v1 file line by line and write its batch, examples, judgments and labels
    in one transaction (PostgreSQL: by COPY, in bounded memory).

    A file with any bad line raises ImportValidationError and writes nothing. Ids already in
    the batch are skipped, so re-importing a file creates no duplicates. The labels go into the
    reviewers app's table, looked up by name (routing does not import that app), in the same transaction.
    """
    items = validated_items(lines)
    with transaction.atomic():
        batch, _ = Batch.objects.get_or_create(
            name=batch_name,
            defaults={"source_name": source_name, "created_by": user, **batch_fields},
        )
        # Imports into one batch take turns: the COPY path tells new rows by their ids.
        batch = Batch.objects.select_for_update().get(pk=batch.pk)
        if connection.vendor == "postgresql":
            counts = copy_import(batch=batch, items=items)
        else:
            counts = _orm_import(batch, list(items))
    return ImportResult(batch=batch, created=counts.created, skipped=counts.skipped, judgments=counts.judgments,
                        human_labels=counts.human_labels)
