"""The small judge-backend interface every backend implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

ORDERS = ("ab", "ba")


@dataclass(frozen=True)
class FewShot:
    """A labelled example shown to the judge as context: its texts and the HUMAN reference
    (1 or 2 for pairwise, 0 = tie; the rating otherwise), never a judge's verdict."""

    example_id: int
    prompt: str
    responses: tuple[str, ...]
    reference: float
    scale_min: int | None = None
    scale_max: int | None = None


@dataclass(frozen=True)
class VerdictRequest:
    """One call to a judge: an example shown in one order, for one prompt variant and sample.

    ``variant`` is "" for the plain prompt; a few-shot variant carries its examples in ``fewshot``."""

    example_id: int
    task: str
    prompt: str
    responses: tuple[str, ...]
    order: str = "ab"
    sample: int = 0
    scale_min: int | None = None
    scale_max: int | None = None
    variant: str = ""
    fewshot: tuple[FewShot, ...] = ()

    @property
    def shown(self) -> tuple[str, ...]:
        """The responses in the order the judge sees them."""
        return tuple(reversed(self.responses)) if self.order == "ba" else self.responses


@dataclass
class Verdict:
    """What a judge answered (or why it did not). ``choice`` is in the order of the example's
    responses (1 or 2, 0 = tie), already mapped back when the judge saw them swapped."""

    request: VerdictRequest
    choice: int | None = None
    rating: float | None = None
    probability: float | None = None
    rationale: str = ""
    error: str = ""
    attempts: int = 1
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: int | None = None
    extra: dict[str, object] = field(default_factory=dict)


class JudgeBackend(Protocol):
    """A judge. ``judge`` never raises for a single verdict's failure: it returns a Verdict with
    ``error`` set, so the example is routed to humans with that reason."""

    name: str

    async def judge(self, request: VerdictRequest) -> Verdict: ...

    async def aclose(self) -> None: ...


def choice_from_letter(letter: str, order: str) -> int:
    """Map the judge's positional verdict (A, B, tie) back to the example's response numbering."""
    if letter == "tie":
        return 0
    first = letter == "A"
    if order == "ba":
        first = not first
    return 1 if first else 2


def letter_from_choice(choice: int, order: str) -> str:
    """Inverse of :func:`choice_from_letter` (used by the replaying fake server)."""
    if choice == 0:
        return "tie"
    first = choice == 1
    if order == "ba":
        first = not first
    return "A" if first else "B"
