"""Verdict parsing (JSON mode, strict text fallback), logprob probabilities, prompt rendering."""

from __future__ import annotations

import math

import pytest

from routing.judging.base import choice_from_letter, letter_from_choice
from routing.judging.prompts import (
    DEFAULT_PAIRWISE_PROMPT,
    pairwise_options,
    render,
    verdict_parse,
    verdict_probability,
)


@pytest.mark.parametrize(
    ("content", "letter"),
    [
        ('{"rationale": "B is precise.", "verdict": "B"}', "B"),
        ('{"rationale": "same", "verdict": "tie"}', "tie"),
        ('```json\n{"rationale": "x", "verdict": "A"}\n```', "A"),
        ("A misses the point.\nVerdict: [[B]]", "B"),
        ("Both fine. Verdict: [[C]]", "tie"),
        ("[[A]] is better, so: Verdict: [[A]]", "A"),
    ],
)
def test_judge_parse_accepts_json_and_strict_text(content, letter):
    parsed = verdict_parse(content, "pairwise")
    assert (parsed.letter, parsed.problem) == (letter, "")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "empty content"),
        (None, "empty content"),
        ("Verdict: [[A]] ... on reflection Verdict: [[B]]", "unparseable verdict"),
        ('{"verdict": "maybe"}', "unparseable verdict"),
        ("Assistant A is better.", "unparseable verdict"),
        ("I'm sorry, but I can't compare these.", "refusal"),
    ],
)
def test_judge_parse_rejects_ambiguous_or_missing_verdicts(content, problem):
    parsed = verdict_parse(content, "pairwise")
    assert (parsed.letter, parsed.problem) == (None, problem)


def test_judge_parse_rating_within_scale_only():
    assert verdict_parse('{"rationale": "ok", "rating": 6}', "rating", lo=1, hi=7).rating == 6.0
    assert verdict_parse("Fine.\nRating: [[3]]", "rating", lo=1, hi=7).rating == 3.0
    assert verdict_parse('{"rating": 9}', "rating", lo=1, hi=7).problem == "unparseable verdict"


def test_judge_probability_renormalised_over_verdict_tokens():
    logprobs = {"content": [
        {"token": '{"verdict": "', "logprob": 0.0, "top_logprobs": []},
        {"token": "B", "logprob": math.log(0.6), "top_logprobs": [
            {"token": "B", "logprob": math.log(0.6)}, {"token": "A", "logprob": math.log(0.2)},
            {"token": "\n", "logprob": math.log(0.2)},
        ]},
        {"token": '"}', "logprob": 0.0, "top_logprobs": []},
    ]}
    assert verdict_probability(logprobs, "B", pairwise_options()) == pytest.approx(0.75)
    assert verdict_probability(None, "B", pairwise_options()) is None
    assert verdict_probability({"content": []}, "B", pairwise_options()) is None


def test_judge_swap_letter_mapping_round_trips():
    assert [choice_from_letter(x, "ab") for x in ("A", "B", "tie")] == [1, 2, 0]
    assert [choice_from_letter(x, "ba") for x in ("A", "B", "tie")] == [2, 1, 0]
    for order in ("ab", "ba"):
        assert all(choice_from_letter(letter_from_choice(c, order), order) == c for c in (0, 1, 2))


def test_judge_render_never_expands_placeholders_inside_responses():
    text = render(DEFAULT_PAIRWISE_PROMPT, {"question": "Q {answer_b}", "answer_a": "{question}",
                                            "answer_b": "B", "output_format": "FMT"})
    assert "[User Question]\nQ {answer_b}\n" in text
    assert "[The Start of Assistant A's Answer]\n{question}\n" in text
    assert text.endswith("FMT")
