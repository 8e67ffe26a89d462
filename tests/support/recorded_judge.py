"""The recorded backend: verdicts that came with the imported file (format v1 ``judgments``).

Nothing is called: import_v1 already stored these as Judgment rows. This backend answers from
those rows, so code written against :class:`JudgeBackend` can replay a recorded judge."""

from __future__ import annotations

from collections.abc import Iterable

from routing.judging.base import Verdict, VerdictRequest
from routing.judging.models import Judgment


class RecordedJudge:
    """Answers each request with the stored verdict of ``judge`` for that example/order/sample."""

    def __init__(self, *, judge: str, judgments: Iterable[Judgment]) -> None:
        self.name = judge
        self._by_key: dict[tuple[int, str, int], Judgment] = {}
        for j in judgments:
            if j.judge == judge:
                self._by_key.setdefault((j.example_id, j.order, j.sample), j)

    async def judge(self, request: VerdictRequest) -> Verdict:
        j = self._by_key.get((request.example_id, request.order, request.sample))
        if j is None:
            return Verdict(request=request, error=f"no recorded verdict of {self.name}")
        return Verdict(request=request, choice=j.choice, rating=j.rating, probability=j.probability,
                       rationale=j.rationale, error=j.error)

    async def aclose(self) -> None:
        return None
