"""Small inline SVG charts for the HTML report, drawn by hand: no plotting library, no script, and a
page that opens from disk anywhere.

    line_chart([Line(t, y, "#1f77b4"), Line(t, y2, "#ff7f0e", dashed=True)], shade=[(1.0, 2.5, "#d62728")])
    bar_chart(["0", "1", "2"], [12.1, 11.8, 30.2], highlight={2})
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

import numpy as np


@dataclass(frozen=True)
class Line:
    x: np.ndarray
    y: np.ndarray
    color: str
    dashed: bool = False
    width: float = 1.2


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def line_chart(
    lines: list[Line],
    *,
    width: int = 260,
    height: int = 90,
    title: str = "",
    shade: list[tuple[float, float, str]] = (),
    x_range: tuple[float, float] | None = None,
    css_class: str = "chart",
    marker_x: float | None = None,
    min_span: float = 0.0,
) -> str:
    """An SVG line chart: lines over a shared x axis, optional shaded x spans, min/max labels. The y
    axis spans at least `min_span`, so a still signal draws flat instead of magnifying its noise."""
    pad_l, pad_r, pad_t, pad_b = 38, 6, 14 if title else 4, 14
    w, h = width - pad_l - pad_r, height - pad_t - pad_b
    xs = [ln.x for ln in lines if len(ln.x)]
    ys = [ln.y[np.isfinite(ln.y)] for ln in lines if len(ln.y)]
    x0, x1 = x_range or (
        (min(float(x.min()) for x in xs), max(float(x.max()) for x in xs)) if xs else (0.0, 1.0)
    )
    ys = [y for y in ys if len(y)]
    y0, y1 = (min(float(y.min()) for y in ys), max(float(y.max()) for y in ys)) if ys else (0.0, 1.0)
    if y1 - y0 < max(min_span, 1e-6):
        middle, half = (y0 + y1) / 2, max(min_span, 0.1) / 2
        y0, y1 = middle - half, middle + half
    if x1 - x0 < 1e-9:
        x1 = x0 + 1.0

    def px(x):
        return pad_l + (np.asarray(x, float) - x0) / (x1 - x0) * w

    def py(y):
        return pad_t + (1.0 - (np.asarray(y, float) - y0) / (y1 - y0)) * h

    parts = [
        f'<svg class="{css_class}" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<rect x="{pad_l}" y="{pad_t}" width="{w}" height="{h}" fill="#fafafa" stroke="#ccc"/>',
    ]
    for a, b, color in shade:
        xa, xb = float(np.clip(px(a), pad_l, pad_l + w)), float(np.clip(px(b), pad_l, pad_l + w))
        parts.append(
            f'<rect class="span" x="{xa:.1f}" y="{pad_t}" width="{max(xb - xa, 1.5):.1f}" height="{h}" '
            f'fill="{color}" fill-opacity="0.22"/>'
        )
    for ln in lines:
        ok = np.isfinite(ln.y) & np.isfinite(ln.x)
        if ok.sum() < 2:
            continue
        pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px(ln.x[ok]), py(ln.y[ok]), strict=True))
        dash = ' stroke-dasharray="3,2"' if ln.dashed else ""
        parts.append(
            f'<polyline points="{pts}" fill="none" stroke="{ln.color}" stroke-width="{ln.width}"{dash}/>'
        )
    if marker_x is not None and x0 <= marker_x <= x1:
        mx = float(px(marker_x))
        parts.append(f'<line x1="{mx:.1f}" y1="{pad_t}" x2="{mx:.1f}" y2="{pad_t + h}" stroke="#d62728"/>')
    label = 'font-size="9" fill="#555" font-family="sans-serif"'
    parts += [
        f'<text x="{pad_l - 3}" y="{pad_t + 8}" text-anchor="end" {label}>{_fmt(y1)}</text>',
        f'<text x="{pad_l - 3}" y="{pad_t + h}" text-anchor="end" {label}>{_fmt(y0)}</text>',
        f'<text x="{pad_l}" y="{height - 3}" {label}>{_fmt(x0)}</text>',
        f'<text x="{pad_l + w}" y="{height - 3}" text-anchor="end" {label}>{_fmt(x1)}</text>',
    ]
    if title:
        parts.append(
            f'<text x="{pad_l}" y="10" font-size="10" font-family="sans-serif">{escape(title)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    labels: list[str],
    values: list[float],
    *,
    highlight: set[int] = frozenset(),
    width: int = 520,
    height: int = 110,
    title: str = "",
    limit: float | None = None,
) -> str:
    """Vertical bars, one per label; highlighted bars red; an optional dashed limit line."""
    pad_l, pad_r, pad_t, pad_b = 34, 6, 14 if title else 4, 16
    w, h = width - pad_l - pad_r, height - pad_t - pad_b
    vals = np.nan_to_num(np.asarray(values, float))
    top = max(float(vals.max(initial=0.0)), limit or 0.0, 1e-9) * 1.05
    n = max(len(vals), 1)
    bw = w / n
    parts = [
        f'<svg class="chart bars" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<rect x="{pad_l}" y="{pad_t}" width="{w}" height="{h}" fill="#fafafa" stroke="#ccc"/>',
    ]
    for i, v in enumerate(vals):
        bh = v / top * h
        color = "#d62728" if i in highlight else "#4c78a8"
        parts.append(
            f'<rect x="{pad_l + i * bw + 0.15 * bw:.1f}" y="{pad_t + h - bh:.1f}" width="{0.7 * bw:.1f}" '
            f'height="{bh:.1f}" fill="{color}"><title>{escape(labels[i])}: {_fmt(v)}</title></rect>'
        )
        if n <= 40:
            parts.append(
                f'<text x="{pad_l + (i + 0.5) * bw:.1f}" y="{height - 4}" text-anchor="middle" '
                f'font-size="8" fill="#555" font-family="sans-serif">{escape(labels[i])}</text>'
            )
    if limit is not None:
        ly = pad_t + h - limit / top * h
        parts.append(
            f'<line x1="{pad_l}" y1="{ly:.1f}" x2="{pad_l + w}" y2="{ly:.1f}" stroke="#d62728" stroke-dasharray="4,3"/>'
        )
    label = 'font-size="9" fill="#555" font-family="sans-serif"'
    parts.append(f'<text x="{pad_l - 3}" y="{pad_t + 8}" text-anchor="end" {label}>{_fmt(top)}</text>')
    if title:
        parts.append(
            f'<text x="{pad_l}" y="10" font-size="10" font-family="sans-serif">{escape(title)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
