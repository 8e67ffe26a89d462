"""The coarse data of bench/coarse_check.py: k verdicts of LLMBar items, so the router's rule triggers."""

from __future__ import annotations

import json

from bench.coarse_check import coarse_lines
from routing.scoring.selection import coarse_judge_scores
from routing.training.backtest import labeled_items

VOTES = [{"judge": "gpt-4", "variant": f"v{n // 2}", "order": "ab" if n % 2 == 0 else "ba", "choice": 1 + n % 2,
          "probability": 0.9} for n in range(12)]


def _line(domain: str, votes: list[dict]) -> str:
    return json.dumps({"id": domain, "task": "pairwise", "domain": domain, "prompt": "Which is better?",
                       "responses": ["a", "b"], "judgments": votes,
                       "human_labels": [{"annotator": "x", "choice": 1}]})


LINES = [_line("llmbar/natural", VOTES), _line("mtbench/math", VOTES[:4]),
         _line("llmbar/adversarial-neighbor", VOTES)]


def test_coarse_lines_keeps_k_votes_of_llmbar_items_in_file_order():
    rows = [json.loads(line) for line in coarse_lines(LINES, 4)]
    assert [r["domain"] for r in rows] == ["llmbar/natural", "llmbar/adversarial-neighbor"]
    for row in rows:
        kept = [(j["variant"], j["order"]) for j in row["judgments"]]
        assert len(kept) == 4
        assert kept == sorted(kept, key=[(j["variant"], j["order"]) for j in VOTES].index)
        assert all("probability" not in j for j in row["judgments"])


def test_coarse_lines_nests_smaller_subsets_in_larger_ones():
    def kept(k: int) -> list[list[tuple[str, str]]]:
        return [[(j["variant"], j["order"]) for j in json.loads(line)["judgments"]] for line in coarse_lines(LINES, k)]

    for small, large in zip(kept(2), kept(8), strict=True):
        assert len(large) == 8
        assert set(small) < set(large)


def test_coarse_lines_make_the_coarse_rule_trigger():
    fine, _ = labeled_items(LINES)
    coarse, _ = labeled_items(coarse_lines(LINES, 8))
    assert coarse_judge_scores([it.item for it in fine]) is False
    assert coarse_judge_scores([it.item for it in coarse]) is True
