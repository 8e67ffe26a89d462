"""Figures the reliability tests measure, written where bench/reliability.py collects them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIGURES_DIR = Path(__file__).resolve().parents[2] / "var" / "reliability"


def figures_write(name: str, figures: dict[str, Any]) -> None:
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    (FIGURES_DIR / f"{name}.json").write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")
