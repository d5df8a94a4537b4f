"""Reads behind the console pages that are presentation only: the GGR chart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

ZERO = Decimal("0.00")


@dataclass
class Bar:
    day: date
    ggr: Decimal
    staked: Decimal
    paid: Decimal
    x: int
    y: int
    height: int


def ggr_chart(days: list[dict[str, Any]], *, width: int = 640, height: int = 180) -> dict[str, Any]:
    """Geometry of an SVG bar chart of daily GGR: bars rise above the zero line for a profit and hang
    below it for a loss. Integer pixels only (scaled with Decimal), so no float reaches a template."""
    top_pad, bottom_pad = 10, 20
    plot = height - top_pad - bottom_pad
    high = max([d["ggr"] for d in days if d["ggr"] > 0], default=ZERO)
    low = -min([d["ggr"] for d in days if d["ggr"] < 0], default=ZERO)
    span = high + low
    zero_y = top_pad + (int(plot * high / span) if span else plot)
    slot = width // max(len(days), 1)
    bars = []
    for index, day in enumerate(days):
        size = int(plot * abs(day["ggr"]) / span) if span else 0
        if day["ggr"] and not size:
            size = 1
        y = zero_y - size if day["ggr"] >= 0 else zero_y
        bars.append(Bar(day=day["day"], ggr=day["ggr"], staked=day["total_staked"], paid=day["total_paid_out"],
                        x=index * slot + 2, y=y, height=size))
    return {"width": width, "height": height, "zero_y": zero_y, "bar_width": max(slot - 4, 1), "bars": bars,
            "high": high, "low": -low, "total": sum((d["ggr"] for d in days), ZERO)}
