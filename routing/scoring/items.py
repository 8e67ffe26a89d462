"""A labeled item, the unit the backtest and candidate selection share (a module of its own so
that neither imports the other for it)."""

from __future__ import annotations

from dataclasses import dataclass

from routing.scoring.vectorized import ItemInput


@dataclass
class LabeledItem:
    """One backtest item: the router's view of it and the human reference label."""

    item: ItemInput
    reference: float
    verdict: float | None
    agree: int  # 1 where the judge's verdict equals the reference; 0 also when no verdict
    confidence: float | None


def domain_source(domain: str) -> str:
    """The source a domain belongs to without named prefixes: its first segment (as the
    backtest's groups are built, ``backtest.source_of``)."""
    return domain.split("/")[0]
