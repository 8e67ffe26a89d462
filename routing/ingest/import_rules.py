"""The rules one format-v1 line must follow, each a function returning (field, message) pairs.

Bounds come from settings (``IMPORT_MAX_*``) and from the columns the values go into: a line that
passes can be stored, and routed without a worker crashing on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypeGuard

from django.apps import apps
from django.conf import settings
from django.db import models

from routing.batches.models import Domain, Example
from routing.ingest.import_json import field_label, json_nodes, path_label, shown, storable_problem
from routing.judging.models import Judgment

TASKS = ("pairwise", "rating")
FIELDS = {"id", "task", "domain", "prompt", "responses", "scale", "judgments", "human_labels", "metadata"}
JUDGMENT_FIELDS = {"judge", "variant", "order", "choice", "scores", "rating", "probability", "rationale"}
LABEL_FIELDS = {"annotator", "choice", "rating", "rationale"}
# One score per response, with room for judges that score several aspects.
MAX_SCORES = 16
# scale_min and scale_max are integer columns.
INT_COLUMN = 2**31 - 1

Problems = list[tuple[str, str]]


def _column_chars(model: type[models.Model], name: str) -> int:
    max_length = model._meta.get_field(name).max_length  # type: ignore[union-attr]
    assert max_length is not None, f"{model.__name__}.{name} has no max_length"
    return int(max_length)


@dataclass(frozen=True)
class Limits:
    id_chars: int
    judge_chars: int
    annotator_chars: int
    variant_chars: int
    domain_chars: int
    domain_segments: int
    text_chars: int
    scale_steps: int
    depth: int
    metadata_values: int
    judgments: int
    labels: int


def current_limits() -> Limits:
    """The settings' bounds, never more than the column a value is stored in allows."""
    ids = settings.IMPORT_MAX_ID_CHARS
    return Limits(
        id_chars=min(ids, _column_chars(Example, "external_id")),
        judge_chars=min(ids, _column_chars(Judgment, "judge")),
        # Looked up by name: routing does not import the reviewers app that owns the labels.
        annotator_chars=min(ids, _column_chars(apps.get_model("reviewers", "HumanLabel"), "annotator")),
        variant_chars=min(ids, _column_chars(Judgment, "variant")),
        domain_chars=_column_chars(Domain, "path"),
        domain_segments=settings.IMPORT_MAX_DOMAIN_SEGMENTS,
        text_chars=settings.IMPORT_MAX_TEXT_CHARS,
        scale_steps=settings.IMPORT_MAX_SCALE_STEPS,
        depth=settings.IMPORT_MAX_DEPTH,
        metadata_values=settings.IMPORT_MAX_METADATA_VALUES,
        judgments=settings.IMPORT_MAX_JUDGMENTS,
        labels=settings.IMPORT_MAX_LABELS,
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def check_storable(item: dict[str, Any], limits: Limits) -> Problems:
    """Bad numbers, NUL, lone surrogates and too deep nesting, anywhere in the line."""
    errors = []
    for key, value in item.items():
        if found := storable_problem(value, max_depth=limits.depth):
            errors.append((path_label(key, found[0]), found[1]))
    return errors


def check_unknown(obj: dict[str, Any], known: set[str], where: str) -> Problems:
    """Unknown fields are refused: a typo must not drop data silently."""
    if obj.keys() <= known:
        return []  # the common case, without building a set
    prefix = f"{where}." if where else ""
    return [(prefix + field_label(k), "unknown field") for k in sorted(set(obj) - known)]


def check_text(value: Any, where: str, max_chars: int, *, required: bool) -> Problems:
    """A string (non-empty when ``required``) of at most ``max_chars`` characters."""
    if not isinstance(value, str) or (required and not value.strip()):
        return [(where, "is required (a non-empty string)" if required else "must be a string")]
    if len(value) > max_chars:
        return [(where, f"is {len(value)} characters long; at most {max_chars} are allowed")]
    return []


def check_domain(item: dict[str, Any], limits: Limits) -> Problems:
    errors = check_text(item.get("domain"), "domain", limits.domain_chars, required=True)
    if errors:
        return errors
    segments = item["domain"].strip().strip("/").split("/")
    if len(segments) > limits.domain_segments:
        return [("domain", f"has {len(segments)} segments; at most {limits.domain_segments} are allowed")]
    return []


def check_metadata(item: dict[str, Any], limits: Limits) -> Problems:
    """An object of bounded size: at most ``metadata_values`` values and ``text_chars`` characters."""
    if "metadata" not in item:
        return []
    if not isinstance(item["metadata"], dict):
        return [("metadata", "must be an object")]
    chars = 0
    for count, (path, _, node) in enumerate(json_nodes(item["metadata"])):
        if count > limits.metadata_values:
            return [("metadata", f"has more than {limits.metadata_values} values")]
        key = path[-1] if path else None
        chars += (len(node) if isinstance(node, str) else 0) + (len(key) if isinstance(key, str) else 0)
    if chars > limits.text_chars:
        return [("metadata", f"holds {chars} characters of text; at most {limits.text_chars} are allowed")]
    return []


def check_required(item: dict[str, Any], limits: Limits) -> Problems:
    errors = check_unknown(item, FIELDS, "")
    errors += check_text(item.get("id"), "id", limits.id_chars, required=True)
    errors += check_domain(item, limits)
    errors += check_text(item.get("prompt"), "prompt", limits.text_chars, required=True)
    if item.get("task") not in TASKS:
        errors.append(("task", f'must be "pairwise" or "rating", got {shown(item.get("task"))}'))
    return errors + check_metadata(item, limits)


def check_responses(item: dict[str, Any], task: str, limits: Limits) -> Problems:
    responses = item.get("responses")
    if not isinstance(responses, list):
        return [("responses", "is required (a list of strings)")]
    want = 2 if task == "pairwise" else 1
    if len(responses) != want:
        return [("responses", f"{task} items need exactly {want}, got {len(responses)}")]
    errors = []
    for i, response in enumerate(responses):
        if not isinstance(response, str):
            errors.append((f"responses[{i}]", f"must be a string, got {type(response).__name__}"))
        else:
            errors += check_text(response, f"responses[{i}]", limits.text_chars, required=False)
    return errors


def check_scale(item: dict[str, Any], limits: Limits) -> Problems:
    """Integers min < max, with at most ``scale_steps`` values between them (both included)."""
    scale = item.get("scale")
    if not isinstance(scale, dict):
        return [("scale", 'rating items need {"min": int, "max": int}')]
    lo, hi = scale.get("min"), scale.get("max")
    if not _is_int(lo) or not _is_int(hi):
        return [("scale", "min and max must be integers")]
    if not all(-INT_COLUMN <= v <= INT_COLUMN for v in (lo, hi)):
        return [("scale", f"min and max must be between {-INT_COLUMN} and {INT_COLUMN}")]
    if lo >= hi:
        return [("scale", f"min ({lo}) must be below max ({hi})")]
    if hi - lo + 1 > limits.scale_steps:
        return [("scale", f"has {hi - lo + 1} values; at most {limits.scale_steps} are allowed")]
    return []


def check_no_scale(item: dict[str, Any]) -> Problems:
    """Pairwise items have no scale (one given would be stored, unchecked, in integer columns)."""
    if item.get("scale") is not None:
        return [("scale", "only rating items have a scale")]
    return []


def scale_of(item: dict[str, Any], limits: Limits) -> tuple[int, int] | None:
    """The item's (min, max) when its scale is valid."""
    if item.get("task") != "rating" or check_scale(item, limits):
        return None
    return item["scale"]["min"], item["scale"]["max"]


def check_choice(obj: dict[str, Any], where: str, *, allow_null: bool) -> Problems:
    if "choice" not in obj:
        return [(f"{where}.choice", "is required for pairwise items")]
    value = obj["choice"]
    if value is None and allow_null:
        return []
    if isinstance(value, bool) or value not in (0, 1, 2):
        return [(f"{where}.choice", f"must be 0, 1, 2{' or null' if allow_null else ''}, got {shown(value)}")]
    return []


def check_rating(obj: dict[str, Any], where: str, scale: tuple[int, int] | None, *, allow_null: bool) -> Problems:
    """A finite number within the item's scale (unchecked against a scale that is itself wrong)."""
    if "rating" not in obj:
        return [(f"{where}.rating", "is required for rating items")]
    value = obj["rating"]
    if value is None and allow_null:
        return []
    if not _is_number(value):
        return [(f"{where}.rating", f"must be a number{' or null' if allow_null else ''}, got {shown(value)}")]
    if scale and not scale[0] <= value <= scale[1]:
        return [(f"{where}.rating", f"must be within the scale {scale[0]}..{scale[1]}, got {value}")]
    return []


def check_other_verdict(obj: dict[str, Any], where: str, task: str) -> Problems:
    """A pairwise verdict has no rating, a rating verdict no choice: routing reads one by the task."""
    other, own = ("rating", "choice") if task == "pairwise" else ("choice", "rating")
    if obj.get(other) is not None:
        return [(f"{where}.{other}", f"must not be given for {task} items (use {own})")]
    return []


def check_verdict(
    obj: dict[str, Any], where: str, task: str, scale: tuple[int, int] | None, *, allow_null: bool
) -> Problems:
    if task == "pairwise":
        errors = check_choice(obj, where, allow_null=allow_null)
    else:
        errors = check_rating(obj, where, scale, allow_null=allow_null)
    return errors + check_other_verdict(obj, where, task)


def check_probability(obj: dict[str, Any], where: str) -> Problems:
    value = obj.get("probability")
    if value is not None and not (_is_number(value) and 0.0 <= value <= 1.0):
        return [(f"{where}.probability", "must be a number between 0 and 1")]
    return []


def check_scores(obj: dict[str, Any], where: str) -> Problems:
    value = obj.get("scores")
    if value is not None and not (isinstance(value, list) and all(_is_number(s) for s in value)):
        return [(f"{where}.scores", "must be a list of numbers")]
    if value is not None and len(value) > MAX_SCORES:
        return [(f"{where}.scores", f"has {len(value)} numbers; at most {MAX_SCORES} are allowed")]
    return []


def check_order(obj: dict[str, Any], where: str) -> Problems:
    if "order" in obj and obj["order"] not in ("ab", "ba"):
        return [(f"{where}.order", f'must be "ab" or "ba", got {shown(obj["order"])}')]
    return []


def check_optional_text(obj: dict[str, Any], key: str, where: str, max_chars: int) -> Problems:
    return check_text(obj[key], f"{where}.{key}", max_chars, required=False) if key in obj else []


def check_judgment(j: Any, where: str, task: str, scale: tuple[int, int] | None, limits: Limits) -> Problems:
    if not isinstance(j, dict):
        return [(where, "must be an object")]
    errors = check_unknown(j, JUDGMENT_FIELDS, where)
    errors += check_text(j.get("judge"), f"{where}.judge", limits.judge_chars, required=True)
    errors += check_verdict(j, where, task, scale, allow_null=True)
    errors += check_order(j, where)
    errors += check_optional_text(j, "variant", where, limits.variant_chars)
    errors += check_optional_text(j, "rationale", where, limits.text_chars)
    return errors + check_probability(j, where) + check_scores(j, where)


def check_label(h: Any, where: str, task: str, scale: tuple[int, int] | None, limits: Limits) -> Problems:
    if not isinstance(h, dict):
        return [(where, "must be an object")]
    errors = check_unknown(h, LABEL_FIELDS, where)
    errors += check_text(h.get("annotator"), f"{where}.annotator", limits.annotator_chars, required=True)
    errors += check_verdict(h, where, task, scale, allow_null=False)
    return errors + check_optional_text(h, "rationale", where, limits.text_chars)


def check_list(item: dict[str, Any], key: str, task: str, limits: Limits) -> Problems:
    """``judgments`` or ``human_labels``: a list of bounded length, each entry checked."""
    values = item.get(key, [])
    if not isinstance(values, list):
        return [(key, "must be a list")]
    cap = limits.judgments if key == "judgments" else limits.labels
    if len(values) > cap:
        return [(key, f"has {len(values)} entries; at most {cap} are allowed")]
    check = check_judgment if key == "judgments" else check_label
    scale = scale_of(item, limits)
    errors: Problems = []
    for i, value in enumerate(values):
        errors += check(value, f"{key}[{i}]", task, scale, limits)
    return errors


def validate_item(item: Any, limits: Limits | None = None, *, storable: bool = False) -> Problems:
    """(field, message) for everything wrong with one parsed line; empty when it can be imported.

    ``storable``: the caller already knows the line holds nothing PostgreSQL refuses and nothing
    too deep (``import_json.fast_item``), so the walk over every value is skipped."""
    if not isinstance(item, dict):
        return [("(line)", "must be a JSON object")]
    limits = limits or current_limits()
    # Later rules assume plain, finite, shallow values: stop at the first place that is not.
    if not storable and (errors := check_storable(item, limits)):
        return errors
    errors = check_required(item, limits)
    task = item.get("task")
    if task not in TASKS:
        return errors
    errors += check_responses(item, task, limits)
    errors += check_scale(item, limits) if task == "rating" else check_no_scale(item)
    return errors + check_list(item, "judgments", task, limits) + check_list(item, "human_labels", task, limits)
