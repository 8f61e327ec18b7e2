"""Server-side SVG for the trends page: a line chart per figure (one line per priority over
the weeks) and a bar chart of incidents per alert name. Pure: figures in, markup out.

The charts carry no colours of their own: every mark has a class (``series-P0`` ...,
``bar``, ``axis``, ``grid``) that ``static/console.css`` colours, so the palette, and the
contrast test over it, live in one file. Each chart is ``role="img"`` with a title, and every
point and bar has a ``<title>`` with its exact figure; the page shows the same figures as a
table for anyone who cannot see the chart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 40


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (1 for nothing)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return 10.0 * power  # pragma: no cover - the loop always returns


def _fmt(value: float) -> str:
    return f"{value:g}"


def lines(title: str, labels: Sequence[str], series: Mapping[str, Sequence[float | None]],
          unit: str) -> Markup:
    """One line per series over ``labels`` (a gap where a value is None), y from 0."""
    top = nice_ceiling(max((v for vs in series.values() for v in vs if v is not None),
                           default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(labels) - 1)

    def x(i: int) -> float:
        return LEFT + i * step

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    out = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
           f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
           f"<title>{escape(title)}</title>"]
    # gridlines at whole steps: 2 -> 0.5s, 5 -> 1s, 10 -> 2s
    steps = 4 if round(top / 10 ** math.floor(math.log10(top))) == 2 else 5
    for n in range(steps + 1):
        v = top * n / steps
        out.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(v):.1f}" '
                   f'y2="{y(v):.1f}"/><text class="axis" x="{LEFT - 6}" y="{y(v) + 4:.1f}" '
                   f'text-anchor="end">{_fmt(v)}</text>')
    for i, label in enumerate(labels):
        out.append(f'<text class="axis" x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 16}" '
                   f'text-anchor="middle">{escape(label)}</text>')
    out.append(f'<text class="axis" x="{LEFT}" y="{HEIGHT - 6}">{escape(unit)}</text>')
    for n, name in enumerate(series):  # the legend, bottom right: a stroke of each line
        left = WIDTH - RIGHT - 56 * (len(series) - n)
        out.append(f'<line class="line series-{escape(name)}" x1="{left}" x2="{left + 18}" '
                   f'y1="{HEIGHT - 10}" y2="{HEIGHT - 10}"/><text class="axis" x="{left + 22}" '
                   f'y="{HEIGHT - 6}">{escape(name)}</text>')
    for name, values in series.items():
        for run in _runs(values):
            points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in run)
            if len(run) > 1:
                out.append(f'<polyline class="line series-{escape(name)}" points="{points}"/>')
        for i, v in enumerate(values):
            if v is not None:
                out.append(f'<circle class="dot series-{escape(name)}" cx="{x(i):.1f}" '
                           f'cy="{y(v):.1f}" r="3.5"><title>{escape(name)} '
                           f'{escape(labels[i])}: {_fmt(round(v, 1))} {escape(unit)}'
                           f'</title></circle>')
    out.append("</svg>")
    return Markup("".join(out))


def _runs(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """The unbroken stretches of (index, value)."""
    runs: list[list[tuple[int, float]]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            runs.append([])
        else:
            runs[-1].append((i, v))
    return [run for run in runs if run]


def bars(title: str, counts: Sequence[tuple[str, int]]) -> Markup:
    """Horizontal bars, one per (label, count), longest first as given."""
    row_h, label_w = 24, 260
    height = TOP + row_h * max(1, len(counts)) + 8
    top = max((c for _, c in counts), default=0) or 1
    span = WIDTH - label_w - RIGHT - 48
    out = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
           f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
           f"<title>{escape(title)}</title>"]
    for n, (label, count) in enumerate(counts):
        y = TOP + n * row_h
        width = span * count / top
        out.append(f'<text class="axis" x="{label_w - 8}" y="{y + 16}" '
                   f'text-anchor="end">{escape(label)}</text>'
                   f'<rect class="bar" x="{label_w}" y="{y + 4}" width="{width:.1f}" '
                   f'height="{row_h - 8}"><title>{escape(label)}: {count}</title></rect>'
                   f'<text class="axis" x="{label_w + width + 6:.1f}" y="{y + 16}">{count}'
                   f"</text>")
    out.append("</svg>")
    return Markup("".join(out))
