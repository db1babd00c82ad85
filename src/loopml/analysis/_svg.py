"""Small inline SVG charts (bars with interval whiskers, curves, heat-map grid); no external assets."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["bar_chart", "heatmap", "line_chart"]

_FONT = 'font-family="system-ui, sans-serif" font-size="11"'
_BLUE, _GREY, _RED = "#3b6ea8", "#888", "#c0392b"


def _n(v: float) -> str:
    return f"{v:.1f}"


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    lowers: Sequence[float | None],
    uppers: Sequence[float | None],
    *,
    baseline: Sequence[float | None] | None = None,
) -> str:
    """Horizontal bars, one per label, with CI whiskers and optional baseline ticks."""
    label_w, plot_w, row_h, top = 220, 360, 20, 24
    known = [v for v in [*values, *uppers, *(baseline or [])] if v is not None]
    hi = max([*known, 0.0]) or 1.0
    lo = min([*known, 0.0])
    span = (hi - lo) or 1.0

    def x(v: float) -> float:
        return label_w + (v - lo) / span * plot_w

    height = top + row_h * len(labels) + 24
    parts = [
        f'<svg role="img" width="{label_w + plot_w + 70}" height="{height}" {_FONT}>',
        f'<text x="4" y="14" font-weight="bold">{escape(title)}</text>',
    ]
    for i, label in enumerate(labels):
        y = top + i * row_h
        parts.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{escape(label)}</text>')
        v = values[i]
        if v is None:
            parts.append(f'<text x="{label_w + 4}" y="{y + 13}" fill="{_GREY}">n/a</text>')
            continue
        x0, x1 = sorted((x(0.0 if lo <= 0 <= hi else lo), x(v)))
        parts.append(
            f'<rect x="{_n(x0)}" y="{y + 3}" width="{_n(max(x1 - x0, 1))}" height="{row_h - 6}" '
            f'fill="{_BLUE}">'
            f"<title>{escape(label)}: {v:.4g}</title></rect>"
        )
        lo_v, up_v = lowers[i], uppers[i]
        if lo_v is not None and up_v is not None:
            ym = y + row_h / 2
            parts.append(
                f'<path d="M{_n(x(lo_v))},{ym} H{_n(x(up_v))} M{_n(x(lo_v))},{ym - 4} V{ym + 4} '
                f'M{_n(x(up_v))},{ym - 4} V{ym + 4}" stroke="#222" fill="none"/>'
            )
        if baseline is not None and baseline[i] is not None:
            bx = x(float(baseline[i] or 0.0))
            parts.append(f'<path d="M{_n(bx)},{y + 1} V{y + row_h - 1}" stroke="{_RED}" stroke-width="2"/>')
        parts.append(f'<text x="{_n(x(max(v, up_v or v)) + 4)}" y="{y + 13}">{v:.3g}</text>')
    axis_y = top + row_h * len(labels) + 14
    parts.append(f'<text x="{label_w}" y="{axis_y}" fill="{_GREY}">{lo:.3g}</text>')
    parts.append(
        f'<text x="{label_w + plot_w}" y="{axis_y}" fill="{_GREY}" text-anchor="end">{hi:.3g}</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def line_chart(
    title: str,
    xs: Sequence[float],
    ys: Sequence[float],
    *,
    x_label: str,
    y_label: str,
    diagonal: bool = False,
    points: bool = False,
) -> str:
    """One curve in the unit square, with an optional dashed diagonal."""
    size, pad = 260, 36

    def px(v: float) -> str:
        return _n(pad + v * size)

    def py(v: float) -> str:
        return _n(pad + (1 - v) * size - 12)

    path = " ".join(
        f"{'M' if i == 0 else 'L'}{px(a)},{py(b)}" for i, (a, b) in enumerate(zip(xs, ys, strict=True))
    )
    parts = [
        f'<svg role="img" width="{size + pad + 20}" height="{size + pad + 20}" {_FONT}>',
        f'<text x="4" y="14" font-weight="bold">{escape(title)}</text>',
        f'<rect x="{pad}" y="{pad - 12}" width="{size}" height="{size}" fill="none" stroke="{_GREY}"/>',
        f'<text x="{pad + size / 2}" y="{size + pad + 14}" text-anchor="middle">{escape(x_label)}</text>',
        f'<text x="10" y="{pad + size / 2}" transform="rotate(-90 10 {pad + size / 2})" '
        f'text-anchor="middle">{escape(y_label)}</text>',
    ]
    if diagonal:
        parts.append(f'<path d="M{px(0)},{py(0)} L{px(1)},{py(1)}" stroke="{_GREY}" stroke-dasharray="4 3"/>')
    if path:
        parts.append(f'<path d="{path}" stroke="{_BLUE}" stroke-width="2" fill="none"/>')
    if points:
        parts += [
            f'<circle cx="{px(a)}" cy="{py(b)}" r="3" fill="{_BLUE}"/>' for a, b in zip(xs, ys, strict=True)
        ]
    parts.append("</svg>")
    return "\n".join(parts)


def heatmap(title: str, labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> str:
    """A confusion matrix: rows are true classes, columns predicted ones."""
    cell, left, top = 56, 90, 40
    k = len(labels)
    peak = max([max(r) for r in matrix if r] + [1])
    parts = [
        f'<svg role="img" width="{left + cell * k + 10}" height="{top + cell * k + 30}" {_FONT}>',
        f'<text x="4" y="14" font-weight="bold">{escape(title)}</text>',
        f'<text x="{left + cell * k / 2}" y="{top - 14}" text-anchor="middle">predicted</text>',
    ]
    for j, name in enumerate(labels):
        parts.append(
            f'<text x="{left + j * cell + cell / 2}" y="{top - 2}" text-anchor="middle">{escape(name)}</text>'
        )
        parts.append(f'<text x="{left - 6}" y="{top + j * cell + cell / 2 + 4}" text-anchor="end">'
                     f"true {escape(name)}</text>")  # fmt: skip
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            shade = int(255 - 180 * count / peak)
            fill = f"rgb({shade},{shade},255)"
            x, y = left + j * cell, top + i * cell
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{fill}" stroke="#fff"/>'
            )
            parts.append(
                f'<text x="{x + cell / 2}" y="{y + cell / 2 + 4}" text-anchor="middle">{count}</text>'
            )
    parts.append("</svg>")
    return "\n".join(parts)
