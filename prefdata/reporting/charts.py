"""Inline SVG bar charts: no script, no CDN, no font files; the page works offline.

Every label goes through ``html.escape``; numbers are formatted here, never taken as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from itertools import pairwise

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 250, 48, 64, 30
COLORS = ("#2b6cb0", "#dd6b20", "#38a169", "#805ad5")


def bar_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
    marker: tuple[float, str] | None = None,
) -> str:
    """Grouped vertical bars, one group per label; ``marker`` = (position in label units,
    text) draws a dashed vertical line, e.g. a threshold between two bins."""
    groups = max(len(labels), 1)
    peak = max((v for _, values in series for v in values), default=0) or 1
    plot_w, plot_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_TOP - PAD_BOTTOM
    group_w = plot_w / groups
    bar_w = max(group_w * 0.8 / max(len(series), 1), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}"><title>{escape(title)}</title>',
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP + plot_h}" x2="{WIDTH - 8}" y2="{PAD_TOP + plot_h}" '
        'stroke="#888"/>',
        f'<text x="4" y="{PAD_TOP + 8}" font-size="10">{_fmt(peak)}</text>',
    ]
    for s, (name, values) in enumerate(series):
        color = COLORS[s % len(COLORS)]
        for g, value in enumerate(values):
            h = plot_h * (value / peak)
            x = PAD_LEFT + g * group_w + group_w * 0.1 + s * bar_w
            parts.append(
                f'<rect x="{x:.1f}" y="{PAD_TOP + plot_h - h:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="{color}"><title>{escape(name)} '
                f"{escape(labels[g])}: {_fmt(value)}</title></rect>"
            )
        parts.append(
            # legends sit in a row above the plot, where no bar can hide them
            f'<rect x="{PAD_LEFT + 110 * s}" y="6" width="10" height="10" fill="{color}"/>'
            f'<text x="{PAD_LEFT + 14 + 110 * s}" y="15" font-size="11">{escape(name)}</text>'
        )
    step = max(1, groups // 12)  # at most ~12 axis labels, so they never overlap
    for g in range(0, len(labels), step):
        x = PAD_LEFT + g * group_w + group_w / 2
        y = HEIGHT - PAD_BOTTOM + 12
        # slanted, anchored at their end: long bin labels never run into each other
        parts.append(
            f'<text x="{x:.1f}" y="{y}" font-size="10" text-anchor="end" '
            f'transform="rotate(-35 {x:.1f} {y})">{escape(labels[g])}</text>'
        )
    if marker is not None:
        x = PAD_LEFT + marker[0] * group_w
        parts.append(
            f'<line x1="{x:.1f}" y1="{PAD_TOP}" x2="{x:.1f}" y2="{PAD_TOP + plot_h}" '
            'stroke="#c53030" stroke-dasharray="4 3"/>'
            f'<text x="{x - 3:.1f}" y="{PAD_TOP + 10}" font-size="11" fill="#c53030" '
            f'text-anchor="end">'
            f"{escape(marker[1])}</text>"
        )
    parts.append("</svg>")
    return f"<figure><figcaption>{escape(title)}</figcaption>{''.join(parts)}</figure>"


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:.3g}"


def edge_labels(edges: Sequence[float]) -> list[str]:
    """'lo-hi' labels for histogram bins; the last bin is open-ended ('lo+')."""
    labels = [f"{_fmt(lo)}-{_fmt(hi)}" for lo, hi in pairwise(edges[:-1])]
    return [*labels, f"{_fmt(edges[-2])}+"]
