"""Judge prompts (MT-Bench / LLMBar style) and strict verdict parsing.

Templates use ``{question}``, ``{answer_a}``, ``{answer_b}`` (pairwise) or ``{answer}``,
``{scale_min}``, ``{scale_max}`` (rating), and ``{output_format}``, which is filled with the
JSON or the text verdict format depending on what the server supports.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

SYSTEM_PROMPT = (
    "You are an impartial, careful judge of AI assistant responses. You follow the rubric you are "
    "given and answer exactly in the requested format."
)

DEFAULT_PAIRWISE_PROMPT = """Compare the two AI assistant responses to the user question below and decide which one is better.

Rubric, in order of priority:
1. Does the response honestly and precisely execute the user's instruction? A response that does what was asked beats one that does not, however polished the latter is.
2. Then helpfulness, accuracy and level of detail; a response must not contain more or less than the instruction asks for.
3. Harmlessness: prefer the response that avoids harmful or misleading content.

Avoid bias:
- The order in which the responses are presented must not influence your decision.
- The length of a response must not influence your decision: longer is not better.
- The names of the assistants must not influence your decision.
Output "tie" only when the responses are truly equally good.

[User Question]
{question}

[The Start of Assistant A's Answer]
{answer_a}
[The End of Assistant A's Answer]

[The Start of Assistant B's Answer]
{answer_b}
[The End of Assistant B's Answer]

{output_format}"""  # noqa: E501

DEFAULT_RATING_PROMPT = """Rate the quality of the AI assistant's response to the user question below on a scale from {scale_min} to {scale_max}.

Rubric: first, does the response honestly and precisely execute the user's instruction; then its helpfulness, accuracy, relevance and level of detail; then harmlessness. The length of the response must not influence your rating: longer is not better.

[User Question]
{question}

[The Start of Assistant's Answer]
{answer}
[The End of Assistant's Answer]

{output_format}"""  # noqa: E501

PAIRWISE_JSON_FORMAT = (
    'Reply with only a JSON object with exactly two keys, in this order: "rationale" (at most three '
    'sentences on the decisive difference) and "verdict" ("A" if Assistant A is better, "B" if '
    'Assistant B is better, "tie" if they are equally good).'
)
PAIRWISE_TEXT_FORMAT = (
    "First explain the decisive difference in at most three sentences. Then give your final verdict "
    'on the last line, strictly in this format: "Verdict: [[A]]" if Assistant A is better, '
    '"Verdict: [[B]]" if Assistant B is better, "Verdict: [[C]]" for a tie.'
)
RATING_JSON_FORMAT = (
    'Reply with only a JSON object with exactly two keys, in this order: "rationale" (at most three '
    'sentences) and "rating" (an integer from {scale_min} to {scale_max}).'
)
RATING_TEXT_FORMAT = (
    "First explain your rating in at most three sentences. Then give the rating on the last line, "
    'strictly in this format: "Rating: [[n]]" with n an integer from {scale_min} to {scale_max}.'
)

_PLACEHOLDER = re.compile(r"\{(question|answer_a|answer_b|answer|scale_min|scale_max|output_format)\}")
_TEXT_VERDICT = re.compile(r"\[\[\s*(A|B|C|tie)\s*\]\]", re.IGNORECASE)
_TEXT_RATING = re.compile(r"\[\[\s*(-?\d+(?:\.\d+)?)\s*\]\]")
_REFUSAL = re.compile(
    r"^\W*(i'?m sorry|i am sorry|sorry, (but )?i|i cannot|i can'?t|i can not|i won'?t|i apologi[sz]e|"
    r"as an ai)", re.IGNORECASE
)


def render(template: str, values: dict[str, str]) -> str:
    """Fill placeholders in ONE pass, so text inside a response that looks like a placeholder is
    never expanded (responses are untrusted)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def output_format(task: str, *, json_mode: bool, scale_min: int | None, scale_max: int | None) -> str:
    if task == "pairwise":
        return PAIRWISE_JSON_FORMAT if json_mode else PAIRWISE_TEXT_FORMAT
    fmt = RATING_JSON_FORMAT if json_mode else RATING_TEXT_FORMAT
    return render(fmt, {"scale_min": str(scale_min), "scale_max": str(scale_max)})


@dataclass
class Parsed:
    """A parsed verdict. ``token`` is the verdict as the model wrote it (for logprob lookup)."""

    letter: str | None = None  # "A", "B" or "tie" (pairwise)
    rating: float | None = None
    rationale: str = ""
    token: str = ""
    problem: str = ""  # "" when parsed; else "refusal", "empty content" or "unparseable verdict"


def _letter(raw: Any) -> str | None:
    text = str(raw).strip().strip("[]").strip().upper()
    return {"A": "A", "B": "B", "C": "tie", "TIE": "tie"}.get(text)


def _rating(raw: Any, lo: int | None, hi: int | None) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value) or (lo is not None and value < lo) or (hi is not None and value > hi):
        return None
    return value


def _parse_json(content: str, task: str, lo: int | None, hi: int | None) -> Parsed | None:
    try:
        obj = json.loads(content)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    rationale = str(obj.get("rationale", ""))
    if task == "pairwise":
        letter = _letter(obj.get("verdict", ""))
        return Parsed(letter=letter, rationale=rationale, token=str(obj.get("verdict"))) if letter else None
    rating = _rating(obj.get("rating"), lo, hi)
    return Parsed(rating=rating, rationale=rationale, token=str(obj.get("rating"))) if rating is not None else None


def _parse_text(content: str, task: str, lo: int | None, hi: int | None) -> Parsed | None:
    """Strict: exactly one distinct bracketed verdict in the whole answer."""
    if task == "pairwise":
        found = {_letter(m) for m in _TEXT_VERDICT.findall(content)}
        letter = found.pop() if len(found) == 1 else None
        if letter is None:
            return None
        token = "C" if letter == "tie" else letter
        return Parsed(letter=letter, rationale=_TEXT_VERDICT.split(content)[0].strip(), token=token)
    values = {_rating(m, lo, hi) for m in _TEXT_RATING.findall(content)}
    if len(values) != 1 or None in values:
        return None
    rating = values.pop()
    assert rating is not None
    token = str(int(rating)) if rating == int(rating) else str(rating)
    return Parsed(rating=rating, rationale=_TEXT_RATING.split(content)[0].strip(), token=token)


def verdict_parse(content: str | None, task: str, *, lo: int | None = None, hi: int | None = None) -> Parsed:
    """Parse a judge's answer: JSON first (json_object mode), then the strict text format."""
    if content is None or not content.strip():
        return Parsed(problem="empty content")
    text = content.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    parsed = _parse_json(text, task, lo, hi) or _parse_text(content, task, lo, hi)
    if parsed is not None:
        return parsed
    if _REFUSAL.match(text):
        return Parsed(problem="refusal", rationale=text[:500])
    return Parsed(problem="unparseable verdict", rationale=text[:500])


def _norm(token: str) -> str:
    return token.strip().strip("\"'[]{}:,. ").upper()


def verdict_probability(logprobs: Any, token: str, options: set[str]) -> float | None:
    """The probability the model gave its verdict token, renormalised over the valid verdict
    tokens among its top alternatives (so mass on punctuation does not count as doubt).

    ``logprobs`` is the choice's ``logprobs`` JSON (``content``: tokens with ``logprob`` and
    ``top_logprobs``). The verdict token is the LAST generated token equal to the verdict, since
    the verdict comes after the rationale in both formats."""
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not content:
        return None
    want = _norm(token)
    for item in reversed(content):
        if not isinstance(item, dict) or _norm(str(item.get("token", ""))) != want or item.get("logprob") is None:
            continue
        mass = {want: math.exp(item["logprob"])}
        for alt in item.get("top_logprobs") or []:
            if not isinstance(alt, dict):
                continue
            key = _norm(str(alt.get("token", "")))
            if key in options and key not in mass and alt.get("logprob") is not None:
                mass[key] = math.exp(alt["logprob"])
        total = sum(mass.values())
        return mass[want] / total if total > 0 else None
    return None


def pairwise_options() -> set[str]:
    return {"A", "B", "C", "TIE"}


def rating_options(lo: int | None, hi: int | None) -> set[str]:
    if lo is None or hi is None:
        return set()
    return {str(v) for v in range(lo, hi + 1)}
