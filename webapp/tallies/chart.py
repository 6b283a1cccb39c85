"""A monthly bar chart as inline SVG markup: a pure function, no Flask, no JavaScript.

Bars run horizontally, one row per month, so a long period grows downwards instead of
squeezing its labels: every text keeps its real size on a 360 px phone and on paper. Widths
are percentages of the chart's own width (no viewBox, so nothing is scaled); heights are pixels.
Colours come from CSS classes, with presentation attributes as the fallback for a copy of the
markup taken out of the page. No `style` attributes (the CSP forbids inline styles).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

LABEL_END = 26.0  # % of the width: month labels on the left, right-aligned to this
PLOT_START = 28.0  # % where a bar's zero is
PLOT_END = 84.0  # % a bar at the axis maximum reaches; its value is written just after
HEAD = 30  # px above the first bar: the category title and the value axis's tick labels
ROW = 26  # px per month
BAR = 18  # px: a bar's thickness
FOOT = 26  # px below the last bar: the value axis's title
FONT = 13  # px


@dataclass(frozen=True)
class Bar:
    label: str  # e.g. "03/2026"
    value: int


def nice_ticks(maximum: int, intervals: int = 4) -> list[int]:
    """0 and round whole steps up to at least `maximum`: 0, 5, 10, 15, 20 for 17."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / intervals
    step = 1
    if raw > 1:
        power = 10 ** math.floor(math.log10(raw))
        steps = [power, 2 * power, *([power * 25 // 10] if power >= 10 else []), 5 * power]
        step = next((s for s in steps if s >= raw), 10 * power)
    top = math.ceil(maximum / step) * step
    return list(range(0, top + 1, step))


def _pct(value: float) -> str:
    return f"{value:.2f}%"


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    desc: str,
    category_axis: str,
    value_axis: str,
    number: Callable[[int], str] = str,
    chart_id: str = "chart",
) -> Markup:
    """SVG for one bar per month; `number` formats values and ticks in the reader's language."""
    ticks = nice_ticks(max((b.value for b in bars), default=0))
    top = ticks[-1]
    span = PLOT_END - PLOT_START
    height = HEAD + ROW * len(bars) + FOOT
    plot_bottom = HEAD + ROW * len(bars)
    cid = "".join(ch for ch in chart_id if ch.isalnum() or ch in "-_") or "chart"
    out: list[str] = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="100%" height="{height}"'
        f' role="img" aria-labelledby="{cid}-title {cid}-desc" font-size="{FONT}">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(desc)}</desc>',
        f'<text class="chart-axis-title" x="0" y="{HEAD - 12}" fill="#5b5860">'
        f"{escape(category_axis)}</text>",
    ]
    for tick in ticks:
        x = _pct(PLOT_START + span * tick / top)
        out.append(
            f'<line class="chart-grid" x1="{x}" x2="{x}" y1="{HEAD - 6}" y2="{plot_bottom}"'
            f' stroke="#d9d6dc" stroke-width="1"/>'
        )
        out.append(
            f'<text class="chart-tick" x="{x}" y="{HEAD - 12}" text-anchor="middle"'
            f' fill="#5b5860">{escape(number(tick))}</text>'
        )
    for index, bar in enumerate(bars):
        y = HEAD + ROW * index
        middle = y + ROW / 2
        width = span * max(bar.value, 0) / top
        out.append(
            f'<text class="chart-label" x="{_pct(LABEL_END)}" y="{middle:.0f}"'
            f' dy="0.35em" text-anchor="end" fill="#1c1b1f">{escape(bar.label)}</text>'
        )
        if width > 0:
            out.append(
                f'<rect class="chart-bar" x="{_pct(PLOT_START)}" y="{y + (ROW - BAR) / 2:.0f}"'
                f' width="{_pct(width)}" height="{BAR}" fill="#b71c1c"/>'
            )
        out.append(
            f'<text class="chart-value" x="{_pct(PLOT_START + width)}" y="{middle:.0f}"'
            f' dx="4" dy="0.35em" fill="#1c1b1f">{escape(number(bar.value))}</text>'
        )
    out.append(
        f'<line class="chart-axis" x1="{_pct(PLOT_START)}" x2="{_pct(PLOT_START)}"'
        f' y1="{HEAD - 6}" y2="{plot_bottom}" stroke="#1c1b1f" stroke-width="1"/>'
    )
    out.append(
        f'<text class="chart-axis-title" x="{_pct((PLOT_START + PLOT_END) / 2)}"'
        f' y="{plot_bottom + FOOT - 8}" text-anchor="middle" fill="#5b5860">'
        f"{escape(value_axis)}</text>"
    )
    out.append("</svg>")
    return Markup("\n".join(out))  # noqa: S704 (every text above went through escape())
