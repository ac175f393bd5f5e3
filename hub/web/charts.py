"""Geometry of the statistics page's charts, drawn as inline SVG by the templates (no chart library)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PALETTE", "Bar", "Chart", "hbars", "stacked"]

PALETTE = ["#3b7dd8", "#e8833a", "#d64545", "#52a852", "#9467bd", "#8c8c8c", "#17becf", "#bcbd22"]


@dataclass
class Bar:
    x: float
    y: float
    w: float
    h: float
    fill: str
    title: str


@dataclass
class Chart:
    width: int
    height: int
    bars: list[Bar] = field(default_factory=list)
    labels: list[dict[str, Any]] = field(default_factory=list)  # {x, y, text, anchor}
    legend: list[dict[str, str]] = field(default_factory=list)  # {color, text}
    gridlines: list[dict[str, Any]] = field(default_factory=list)  # {y, text}


def _nice_max(value: float, ticks: int = 4) -> float:
    """The top of the axis: ``ticks`` steps of 1, 2 or 5 times a power of ten (at least 1 per step)."""
    raw = max(value, 1.0) / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return float(max(step, 1.0) * ticks)


def stacked(
    buckets: list[dict[str, Any]],
    key: str,
    series: list[str],
    names: dict[str, str],
    *,
    width: int = 760,
    height: int = 260,
) -> Chart:
    """Vertical bars per bucket (e.g. month), stacked by the values of ``bucket[key]`` (e.g. by_category)."""
    left, bottom, top = 40, 40, 10
    chart = Chart(width, height)
    chart.legend = [
        {"color": PALETTE[i % len(PALETTE)], "text": names.get(s, s)} for i, s in enumerate(series)
    ]
    if not buckets:
        return chart
    peak = _nice_max(max(sum(b[key].get(s, 0) for s in series) for b in buckets))
    plot_h = height - bottom - top
    slot = (width - left - 10) / len(buckets)
    bar_w = max(2.0, min(48.0, slot * 0.7))
    for g in range(5):
        value = peak * g / 4
        chart.gridlines.append({"y": round(top + plot_h - plot_h * g / 4, 1), "text": f"{value:g}"})
    every = max(1, len(buckets) // 12)
    for i, b in enumerate(buckets):
        x = left + i * slot + (slot - bar_w) / 2
        y = float(top + plot_h)
        for j, s in enumerate(series):
            n = b[key].get(s, 0)
            if not n:
                continue
            h = plot_h * n / peak
            y -= h
            title = f"{b['period']} · {names.get(s, s)}: {n}"
            chart.bars.append(
                Bar(round(x, 1), round(y, 1), round(bar_w, 1), round(h, 1), PALETTE[j % len(PALETTE)], title)
            )
        if i % every == 0:
            chart.labels.append(
                {
                    "x": round(x + bar_w / 2, 1),
                    "y": height - bottom + 16,
                    "text": b["period"],
                    "anchor": "middle",
                }
            )
    return chart


def hbars(values: dict[str, int], names: dict[str, str], *, width: int = 360, row: int = 26) -> Chart:
    """Horizontal bars, one per key of ``values``."""
    label_w = 110
    chart = Chart(width, max(row, row * len(values)) + 6)
    peak = max(values.values(), default=0) or 1
    for i, (key, n) in enumerate(values.items()):
        y = 3 + i * row
        w = (width - label_w - 50) * n / peak
        chart.labels.append(
            {"x": label_w - 6, "y": y + row * 0.62, "text": names.get(key, key), "anchor": "end"}
        )
        chart.bars.append(
            Bar(
                label_w,
                y + 3,
                round(max(w, 1.0 if n else 0.0), 1),
                row - 8,
                PALETTE[i % len(PALETTE)],
                f"{names.get(key, key)}: {n}",
            )
        )
        chart.labels.append({"x": label_w + w + 6, "y": y + row * 0.62, "text": str(n), "anchor": "start"})
    return chart
