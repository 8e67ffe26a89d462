"""Deterministic verdicts for the fake judge: replayed from a format-v1 file, else hash-based.

The fake finds the question and the shown answers in the prompt through the default template's
markers, and keys the recorded verdicts by a hash of (question, first shown, second shown), so a
live run over an imported file reproduces that file's recorded verdicts. A few-shot section is cut
off first (its history texts use other markers, defanged), so a few-shot variant maps to the item
being judged, not to one of its examples."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from routing.judging.base import letter_from_choice
from routing.judging.fewshot import fewshot_strip

_PAIR = re.compile(
    r"\[User Question\]\n(?P<q>.*?)\n\n\[The Start of Assistant A's Answer\]\n(?P<a>.*?)\n"
    r"\[The End of Assistant A's Answer\]\n\n\[The Start of Assistant B's Answer\]\n(?P<b>.*?)\n"
    r"\[The End of Assistant B's Answer\]",
    re.DOTALL,
)
_SCALE = re.compile(r"scale from (-?\d+) to (-?\d+)")


def pair_key(question: str, first: str, second: str) -> str:
    return hashlib.sha256(json.dumps([question, first, second]).encode()).hexdigest()


def unit_hash(*parts: object) -> float:
    """A deterministic number in [0, 1) from the parts."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Recorded:
    letter: str | None  # None: the recorded judge gave no usable verdict
    probability: float | None


class Replay:
    """Recorded verdicts per shown pair: a list over the recorded variants, sample-indexed."""

    def __init__(self) -> None:
        self.pairs: dict[str, list[Recorded]] = {}

    @classmethod
    def from_file(cls, path: str | Path, judge: str | None = None) -> Replay:
        replay = cls()
        for line in Path(path).read_text().splitlines():
            if line.strip():
                replay.add(json.loads(line), judge)
        return replay

    def add(self, item: dict, judge: str | None = None) -> None:
        if item.get("task") != "pairwise" or len(item.get("responses", [])) != 2:
            return
        judgments = [j for j in item.get("judgments", []) if judge is None or j.get("judge") == judge]
        first_judge = judgments[0]["judge"] if judgments else None
        r1, r2 = item["responses"]
        for order, shown in (("ab", (r1, r2)), ("ba", (r2, r1))):
            recorded = [
                Recorded(None if j.get("choice") is None else letter_from_choice(j["choice"], order),
                         j.get("probability"))
                for j in judgments
                if j.get("judge") == first_judge and j.get("order", "ab") == order
            ]
            if recorded:
                self.pairs.setdefault(pair_key(item["prompt"], *shown), recorded)

    def lookup(self, text: str, sample: int) -> Recorded | None:
        m = _PAIR.search(fewshot_strip(text))
        if m is None:
            return None
        recorded = self.pairs.get(pair_key(m["q"], m["a"], m["b"]))
        return recorded[sample % len(recorded)] if recorded else None


def hashed_pairwise(text: str, sample: int) -> Recorded:
    """A deterministic verdict for an unknown pair: mostly A or B, now and then a tie."""
    u = unit_hash("pair", text, sample)
    letter = "tie" if u < 0.06 else ("A" if u < 0.53 else "B")
    return Recorded(letter, round(0.5 + 0.49 * unit_hash("prob", text, sample), 4))


def hashed_rating(text: str, sample: int) -> tuple[int, float]:
    m = _SCALE.search(fewshot_strip(text))
    lo, hi = (int(m[1]), int(m[2])) if m else (1, 10)
    value = lo + int(unit_hash("rating", text, sample) * (hi - lo + 1))
    return min(value, hi), round(0.5 + 0.49 * unit_hash("prob", text, sample), 4)
