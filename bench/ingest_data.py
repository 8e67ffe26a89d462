"""The ingest benchmark's input: 100k format-v1 items, 10 judgments and 1 human label each,
generated deterministically (a seeded RNG) into var/ and reused while the file exists."""

from __future__ import annotations

import json
import random
from pathlib import Path

ITEMS = 100_000
JUDGMENTS = 10
DOMAINS = [f"bench/{topic}" for topic in ("coding", "math", "writing", "reasoning", "safety")]
WORDS = ["the", "a", "judge", "answer", "model", "response", "better", "clearly", "because", "correct", "step",
         "list", "code", "reason"]


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def _item(rng: random.Random, i: int) -> dict:
    judgments = [
        {"judge": f"judge-{k % 2}", "variant": f"v{k // 4}", "order": "ab" if k % 2 == 0 else "ba",
         "choice": rng.choice((0, 1, 2)), "probability": round(rng.random(), 3)}
        for k in range(JUDGMENTS)
    ]
    return {
        "id": f"bench-{i:06d}", "task": "pairwise", "domain": DOMAINS[i % len(DOMAINS)],
        "prompt": _text(rng, 25), "responses": [_text(rng, 30), _text(rng, 30)],
        "judgments": judgments, "human_labels": [{"annotator": "ann-1", "choice": rng.choice((1, 2))}],
        "metadata": {"source": "bench", "n": i},
    }


def items_file(path: Path, items: int = ITEMS) -> Path:
    """The benchmark file at ``path`` (written once; the same seed always gives the same bytes)."""
    if path.exists():
        return path
    rng = random.Random(10)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as fh:
        for i in range(items):
            fh.write(json.dumps(_item(rng, i)) + "\n")
    tmp.replace(path)
    return path
