"""Format v1 import: validate every line first, then write all of it in one transaction."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from routing.models import Batch, Domain, Example, Judgment

TASKS = ("pairwise", "rating")
FIELDS = {"id", "task", "domain", "prompt", "responses", "scale", "judgments", "human_labels", "metadata"}
JUDGMENT_FIELDS = {"judge", "variant", "order", "choice", "scores", "rating", "probability", "rationale"}
LABEL_FIELDS = {"annotator", "choice", "rating", "rationale"}


@dataclass(frozen=True)
class LineError:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


class ImportValidationError(Exception):
    def __init__(self, errors: list[LineError]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} invalid line(s); nothing was imported")


@dataclass
class ImportResult:
    batch: Batch
    created: int = 0
    skipped: int = 0
    judgments: int = 0
    human_labels: int = 0
    new_example_ids: list[int] = field(default_factory=list)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_choice(value: Any, *, allow_null: bool) -> str | None:
    if value is None and allow_null:
        return None
    if isinstance(value, bool) or value not in (0, 1, 2):
        return f"must be 0, 1, 2{' or null' if allow_null else ''}, got {json.dumps(value)}"
    return None


def _check_scale(item: dict[str, Any]) -> list[tuple[str, str]]:
    scale = item.get("scale")
    if not isinstance(scale, dict):
        return [("scale", 'rating items need {"min": int, "max": int}')]
    lo, hi = scale.get("min"), scale.get("max")
    if not (isinstance(lo, int) and isinstance(hi, int)) or isinstance(lo, bool) or isinstance(hi, bool):
        return [("scale", "min and max must be integers")]
    if lo >= hi:
        return [("scale", f"min ({lo}) must be below max ({hi})")]
    return []


def _check_verdict(obj: dict[str, Any], where: str, task: str, *, allow_null: bool) -> list[tuple[str, str]]:
    if task == "pairwise":
        if "choice" not in obj:
            return [(f"{where}.choice", "is required for pairwise items")]
        problem = _check_choice(obj["choice"], allow_null=allow_null)
        return [(f"{where}.choice", problem)] if problem else []
    rating = obj.get("rating")
    if rating is None and allow_null and "rating" in obj:
        return []
    if not _is_number(rating):
        return [(f"{where}.rating", f"must be a number, got {json.dumps(rating)}")]
    return []


def _check_judgment(j: Any, where: str, task: str) -> list[tuple[str, str]]:
    if not isinstance(j, dict):
        return [(where, "must be an object")]
    errors = [(f"{where}.{k}", "unknown field") for k in sorted(set(j) - JUDGMENT_FIELDS)]
    if not isinstance(j.get("judge"), str) or not j.get("judge"):
        errors.append((f"{where}.judge", "is required (a non-empty string)"))
    errors += _check_verdict(j, where, task, allow_null=True)
    if "order" in j and j["order"] not in ("ab", "ba"):
        errors.append((f"{where}.order", f'must be "ab" or "ba", got {json.dumps(j["order"])}'))
    for key in ("variant", "rationale"):
        if key in j and not isinstance(j[key], str):
            errors.append((f"{where}.{key}", "must be a string"))
    prob = j.get("probability")
    if prob is not None and not (_is_number(prob) and 0.0 <= prob <= 1.0):
        errors.append((f"{where}.probability", "must be a number between 0 and 1"))
    scores = j.get("scores")
    if scores is not None and not (isinstance(scores, list) and all(_is_number(s) for s in scores)):
        errors.append((f"{where}.scores", "must be a list of numbers"))
    return errors


def _check_label(h: Any, where: str, task: str) -> list[tuple[str, str]]:
    if not isinstance(h, dict):
        return [(where, "must be an object")]
    errors = [(f"{where}.{k}", "unknown field") for k in sorted(set(h) - LABEL_FIELDS)]
    if not isinstance(h.get("annotator"), str) or not h.get("annotator"):
        errors.append((f"{where}.annotator", "is required (a non-empty string)"))
    errors += _check_verdict(h, where, task, allow_null=False)
    if "rationale" in h and not isinstance(h["rationale"], str):
        errors.append((f"{where}.rationale", "must be a string"))
    return errors


def _check_list(item: dict[str, Any], key: str, task: str) -> list[tuple[str, str]]:
    values = item.get(key, [])
    if not isinstance(values, list):
        return [(key, "must be a list")]
    check = _check_judgment if key == "judgments" else _check_label
    errors: list[tuple[str, str]] = []
    for i, value in enumerate(values):
        errors += check(value, f"{key}[{i}]", task)
    return errors


def _check_responses(item: dict[str, Any], task: str) -> list[tuple[str, str]]:
    responses = item.get("responses")
    if not isinstance(responses, list):
        return [("responses", "is required (a list of strings)")]
    want = 2 if task == "pairwise" else 1
    errors = []
    if task in TASKS and len(responses) != want:
        errors.append(("responses", f"{task} items need exactly {want}, got {len(responses)}"))
    for i, response in enumerate(responses):
        if not isinstance(response, str):
            errors.append((f"responses[{i}]", f"must be a string, got {type(response).__name__}"))
    return errors


def _check_required(item: dict[str, Any]) -> list[tuple[str, str]]:
    errors = [(k, "unknown field") for k in sorted(set(item) - FIELDS)]
    for key in ("id", "domain", "prompt"):
        value = item.get(key)
        if not isinstance(value, str) or not value.strip():
            errors.append((key, "is required (a non-empty string)"))
    if item.get("task") not in TASKS:
        errors.append(("task", f'must be "pairwise" or "rating", got {json.dumps(item.get("task"))}'))
    if "metadata" in item and not isinstance(item["metadata"], dict):
        errors.append(("metadata", "must be an object"))
    return errors


def validate_item(item: Any) -> list[tuple[str, str]]:
    """Return (field, message) for everything wrong with one parsed line."""
    if not isinstance(item, dict):
        return [("(line)", "must be a JSON object")]
    errors = _check_required(item)
    task = item.get("task")
    if task not in TASKS:
        return errors
    errors += _check_responses(item, task)
    if task == "rating":
        errors += _check_scale(item)
    errors += _check_list(item, "judgments", task)
    errors += _check_list(item, "human_labels", task)
    return errors


def parse_lines(lines: Iterable[str | bytes]) -> list[tuple[int, dict[str, Any]]]:
    """Parse and validate every line; raise ImportValidationError listing all bad lines."""
    items: list[tuple[int, dict[str, Any]]] = []
    errors: list[LineError] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        if not text.strip():
            continue
        try:
            item = json.loads(text)
        except json.JSONDecodeError as exc:
            errors.append(LineError(number, "(line)", f"invalid JSON: {exc.msg} at column {exc.colno}"))
            continue
        problems = validate_item(item)
        errors += [LineError(number, f, m) for f, m in problems]
        if not problems:
            if item["id"] in seen:
                errors.append(LineError(number, "id", f"duplicate of line {seen[item['id']]}"))
                continue
            seen[item["id"]] = number
            items.append((number, item))
    if errors:
        raise ImportValidationError(errors)
    if not items:
        raise ImportValidationError([LineError(0, "(file)", "contains no items")])
    return items


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
    *, batch_name: str, lines: Iterable[str | bytes], source_name: str = "", user: Any = None, **batch_fields: Any
) -> ImportResult:
    """Validate a whole format-v1 file, then create the batch, examples, judgments and labels.

    A file with any bad line raises ImportValidationError and writes nothing. Ids already in
    the batch are skipped, so re-importing a file creates no duplicates.
    """
    from reviewers.services import import_labels_create

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
        result.human_labels = import_labels_create(labels=labels)
        if not batch.primary_judge and judgments:
            batch.primary_judge = judgments[0].judge
            batch.save(update_fields=["primary_judge"])
        result.created, result.judgments = len(examples), len(judgments)
        result.new_example_ids = [e.pk for e in examples]
    return result
