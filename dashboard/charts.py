"""Server-side chart geometry (inline SVG: no chart library, nothing to download)."""

from __future__ import annotations

from typing import Any

WIDTH, HEIGHT, PAD = 720, 220, 48


def _y(value: float) -> float:
    return round(PAD + (1 - value) * (HEIGHT - 2 * PAD), 1)


def drift_series(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Audit agreement (with its 95% band) and override rate across batches, oldest first."""
    ordered = list(reversed(reports))
    n = max(len(ordered) - 1, 1)
    step = (WIDTH - 2 * PAD) / n
    points = []
    for i, r in enumerate(ordered):
        x = round(PAD + i * step, 1) if len(ordered) > 1 else WIDTH / 2
        point: dict[str, Any] = {"x": x, "label": r["batch"]}
        if r["audit_agreement"] is not None:
            lo, hi = r["audit_agreement_ci"]
            point.update(agree=r["audit_agreement"], ay=_y(r["audit_agreement"]), lo=_y(lo), hi=_y(hi))
        if r["override_rate"] is not None:
            point.update(override=r["override_rate"], oy=_y(r["override_rate"]))
        points.append(point)
    agree_line = " ".join(f"{p['x']},{p['ay']}" for p in points if "ay" in p)
    override_line = " ".join(f"{p['x']},{p['oy']}" for p in points if "oy" in p)
    grid = [{"y": _y(v), "label": f"{v:.0%}"} for v in (0.0, 0.25, 0.5, 0.75, 1.0)]
    return {"width": WIDTH, "height": HEIGHT, "points": points, "agree_line": agree_line,
            "override_line": override_line, "grid": grid, "pad": PAD}
