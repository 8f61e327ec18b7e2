"""Bar charts for reports, drawn server-side: SVG for HTML, text bars for Markdown. Pure.

A chart is ``categories`` along one axis and one or more ``series`` (name -> one value per
category; None: no value, drawn as nothing). With one series it is a plain bar chart; with
several, each category has one bar per series, side by side, coloured per series with a
legend. Bars are scaled to the largest value; every text is XML-escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948")
WIDTH, BAR, GAP, LEFT, TOP = 640, 14, 10, 150, 34
BLOCK = "█"


def _peak(series: Mapping[str, Sequence[float | None]]) -> float:
    return max((v for values in series.values() for v in values if v), default=0.0) or 1.0


def svg_bars(title: str, categories: Sequence[str],
             series: Mapping[str, Sequence[float | None]], unit: str = "") -> str:
    """A horizontal bar chart as one ``<svg>`` element (``role="img"``, titled)."""
    peak, names = _peak(series), list(series)
    group = BAR * len(names) + GAP
    legend = 18 if len(names) > 1 else 0
    height = TOP + legend + group * len(categories) + GAP
    span = WIDTH - LEFT - 70
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" '
             f'height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" '
             f'font-size="11"><title>{escape(title)}</title>',
             f'<text x="4" y="16" font-size="13" font-weight="bold">{escape(title)}</text>']
    if legend:
        for n, name in enumerate(names):
            x = LEFT + n * 90
            parts.append(f'<rect x="{x}" y="{TOP - 10}" width="10" height="10" '
                         f'fill="{PALETTE[n % len(PALETTE)]}"/><text x="{x + 14}" '
                         f'y="{TOP - 1}">{escape(name)}</text>')
    for row, category in enumerate(categories):
        y0 = TOP + legend + row * group
        parts.append(f'<text x="{LEFT - 6}" y="{y0 + BAR * len(names) / 2 + 4:.0f}" '
                     f'text-anchor="end">{escape(category)}</text>')
        for n, name in enumerate(names):
            value = series[name][row]
            if value is None:
                continue
            y, width = y0 + n * BAR, max(1.0, span * value / peak) if value else 0.0
            parts.append(f'<rect x="{LEFT}" y="{y}" width="{width:.1f}" height="{BAR - 2}" '
                         f'fill="{PALETTE[n % len(PALETTE)]}"><title>{escape(name)} '
                         f'{escape(category)}: {_number(value)}{escape(unit)}</title></rect>'
                         f'<text x="{LEFT + width + 4:.1f}" y="{y + BAR - 4}">'
                         f'{_number(value)}{escape(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def text_bars(categories: Sequence[str], series: Mapping[str, Sequence[float | None]],
              unit: str = "", width: int = 30) -> list[str]:
    """The same chart as text lines (for a Markdown code block): one line per category and
    series, ``label | ████ value``; a missing value reads ``n/a``."""
    peak = _peak(series)
    label = max((len(_label(c, s, series)) for c in categories for s in series), default=0)
    lines = []
    for row, category in enumerate(categories):
        for name, values in series.items():
            value = values[row]
            bar = "n/a" if value is None else \
                BLOCK * round(width * value / peak) + f" {_number(value)}{unit}"
            lines.append(f"{_label(category, name, series).ljust(label)} | {bar}".rstrip())
    return lines


def _label(category: str, name: str, series: Mapping[str, Sequence[float | None]]) -> str:
    return category if len(series) == 1 else f"{category} {name}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
