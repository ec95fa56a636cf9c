"""Server-rendered SVG charts: readable at 360 px, printable, no JavaScript or library."""
from __future__ import annotations

from markupsafe import Markup, escape

__all__ = ["bars", "trend"]

GREEN, RED, GREY, INK = "#0f7b5f", "#b3261e", "#d9e2dd", "#1d2521"


def _pct(v: float | None) -> str:
    return "暂无" if v is None else f"{v * 100:.0f}%"


def bars(rows: list[tuple[str, float | None]], *, target: float | None = None,
         title: str) -> Markup:
    """Horizontal bars, one per facility, value 0-1; the target as a dashed line."""
    width, label_w, row_h = 320, 120, 26
    bar_w = width - label_w - 44
    height = row_h * len(rows) + 8
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(title)}</title>"]
    for i, (label, value) in enumerate(rows):
        y = 4 + i * row_h
        short = label if len(label) <= 8 else label[:7] + "…"
        parts.append(f'<text x="0" y="{y + 16}" font-size="12" fill="{INK}">{escape(short)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{bar_w}" height="14" fill="{GREY}" rx="3"/>')
        if value is not None:
            w = max(0.0, min(1.0, value)) * bar_w
            bad = target is not None and value < target
            parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="14" '
                         f'fill="{RED if bad else GREEN}" rx="3"/>')
        parts.append(f'<text x="{width}" y="{y + 16}" font-size="12" text-anchor="end" '
                     f'fill="{INK}">{_pct(value)}</text>')
    if target is not None:
        x = label_w + target * bar_w
        parts.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height}" stroke="{INK}" '
                     f'stroke-dasharray="3 3" stroke-width="1"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def trend(points: list[tuple[str, float | None]], *, title: str,
          target: float | None = None) -> Markup:
    """Monthly columns (value 0-1) with the month under each; a gap where no figure."""
    width, height, top, bottom, left = 320, 150, 14, 22, 30
    plot_h = height - top - bottom
    n = max(1, len(points))
    step = (width - left) / n
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(title)}</title>"]
    for frac in (0, 0.5, 1):
        y = top + plot_h * (1 - frac)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width}" y2="{y:.1f}" stroke="{GREY}"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end" '
                     f'fill="{INK}">{int(frac * 100)}%</text>')
    for i, (month, value) in enumerate(points):
        x = left + i * step + step * 0.15
        if value is not None:
            h = max(0.0, min(1.0, value)) * plot_h
            bad = target is not None and value < target
            parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{step * 0.7:.1f}" '
                         f'height="{h:.1f}" fill="{RED if bad else GREEN}"><title>{escape(month)} '
                         f'{_pct(value)}</title></rect>')
        if (len(points) - 1 - i) % 2 == 0:  # every other month, ending with this one
            parts.append(f'<text x="{x + step * 0.35:.1f}" y="{height - 6}" font-size="10" '
                         f'text-anchor="middle" fill="{INK}">{int(month[5:])}月</text>')
    if target is not None:
        y = top + plot_h * (1 - target)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width}" y2="{y:.1f}" stroke="{INK}" '
                     f'stroke-dasharray="3 3"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
