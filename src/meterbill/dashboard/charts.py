"""Bar charts drawn on the server as inline SVG: no script, no library, no network.

Values stay Decimal; coordinates are computed in Decimal and written with one decimal
place. Labels and captions arrive formatted (money through the dashboard's formatter)
and are escaped here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

TENTH = Decimal("0.1")


@dataclass(frozen=True)
class Bar:
    label: str  # under the axis (shown for a few bars only)
    value: Decimal
    caption: str  # the bar's tooltip and accessible text, e.g. "12 Mar: 1,234 units"


def _n(value: Decimal) -> str:
    text = format(value.quantize(TENTH), "f")
    return text[:-2] if text.endswith(".0") else text


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    top_label: str,
    width: int = 640,
    height: int = 160,
    every: int | None = None,
) -> Markup:
    """An SVG bar chart of `bars`, scaled to the largest value (`top_label` names it).

    `every`: label one bar in so many under the axis (default: about eight labels).
    Negative values (a month of refunds) are drawn as empty bars.
    """
    left, right, top, bottom = Decimal(8), Decimal(8), Decimal(18), Decimal(22)
    plot_width = Decimal(width) - left - right
    plot_height = Decimal(height) - top - bottom
    largest = max((bar.value for bar in bars), default=Decimal(0))
    count = max(len(bars), 1)
    slot = plot_width / count
    gap = min(slot / 4, Decimal(6))
    every = every or max(1, -(-len(bars) // 8))
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMidYMid meet" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text class="chart-top" x="{_n(left)}" y="12">{escape(top_label)}</text>',
        f'<line class="chart-axis" x1="{_n(left)}" x2="{_n(left + plot_width)}" '
        f'y1="{_n(top + plot_height)}" y2="{_n(top + plot_height)}"/>',
    ]
    for index, bar in enumerate(bars):
        x = left + slot * index + gap / 2
        bar_height = (
            plot_height * bar.value / largest if largest > 0 and bar.value > 0 else Decimal(0)
        )
        y = top + plot_height - bar_height
        parts.append(
            f'<rect class="chart-bar" x="{_n(x)}" y="{_n(y)}" width="{_n(slot - gap)}" '
            f'height="{_n(bar_height)}"><title>{escape(bar.caption)}</title></rect>'
        )
        if index % every == 0 or (index == len(bars) - 1 and len(bars) <= 16):
            parts.append(
                f'<text class="chart-label" x="{_n(x + (slot - gap) / 2)}" '
                f'y="{_n(Decimal(height) - 6)}" text-anchor="middle">{escape(bar.label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
