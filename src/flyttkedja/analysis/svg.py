"""Inline SVG charts for the HTML report, drawn from polars tables in plain Python.

No JavaScript charting library: the charts are static markup, so the report
works offline and the same tables always give the same bytes. Suppressed
values (None) are drawn as a ".." mark instead of a bar.

Example
-------
>>> svg = bars({"rental": [("1", 0.5, None, None)]}, title="share")   # doctest: +SKIP
"""

from __future__ import annotations

import math
from html import escape

from flyttkedja.analysis.labels import SUPPRESSED_MARK

PALETTE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666")
W, H, LEFT, BOTTOM, TOP = 640, 280, 56, 40, 16


def colour(i: int, name: str = "", colours: dict[str, str] | None = None) -> str:
    """The colour of series ``name`` (fixed by ``colours`` so a group keeps its colour across charts)."""
    if colours and name in colours:
        return colours[name]
    return PALETTE[i % len(PALETTE)]


def nice(x: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above x (a readable axis maximum)."""
    if x <= 0:
        return 1.0
    k = 10 ** math.floor(math.log10(x))
    return next(m * k for m in (1, 2, 2.5, 5, 10) if m * k >= x * (1 - 1e-12))


def _f(x: float) -> str:
    return f"{x:.1f}"


def _svg(body: list[str], name: str, height: int = H) -> str:
    return (f'<svg class="chart" data-chart="{escape(name)}" xmlns="http://www.w3.org/2000/svg" '
            f'viewBox="0 0 {W} {height}" width="{W}" height="{height}" role="img">' + "".join(body) + "</svg>")


def _text(x, y, s, anchor="middle", size=11, extra="") -> str:
    return f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="{anchor}" font-size="{size}"{extra}>{escape(str(s))}</text>'


def _axis(ymax: float, height: int = H) -> list[str]:
    """Y axis with 5 ticks from 0 to ymax."""
    out = [f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{height - BOTTOM}" stroke="#333"/>',
           f'<line x1="{LEFT}" y1="{height - BOTTOM}" x2="{W - 8}" y2="{height - BOTTOM}" stroke="#333"/>']
    for i in range(6):
        v = ymax * i / 5
        y = height - BOTTOM - (height - BOTTOM - TOP) * i / 5
        out.append(f'<line x1="{LEFT - 4}" y1="{_f(y)}" x2="{W - 8}" y2="{_f(y)}" stroke="#ddd"/>')
        out.append(_text(LEFT - 6, y + 4, f"{v:.3g}", "end", 10))
    return out


def _legend(series: list[str], y: float = 12, colours=None) -> list[str]:
    out, x = [], LEFT + 8
    for i, s in enumerate(series):
        width = 22 + 6.5 * len(s)
        if x + width > W and x > LEFT + 8:  # wrap onto a new line
            x, y = LEFT + 8, y + 14
        out.append(f'<rect x="{_f(x)}" y="{_f(y - 9)}" width="10" height="10" fill="{colour(i, s, colours)}"/>')
        out.append(_text(x + 14, y, s, "start", 10))
        x += width
    return out


def bars(series: dict[str, list[tuple[str, float | None, float | None, float | None]]], name: str,
         x_label: str = "", colours: dict[str, str] | None = None) -> str:
    """Grouped vertical bars: ``series[s] = [(category, value, low, high), ...]`` (same categories in each)."""
    cats = list(dict.fromkeys(c for pts in series.values() for c, *_ in pts))
    vals = [v for pts in series.values() for _, *vs in pts for v in vs if v is not None]
    ymax = nice(max(vals, default=1.0))
    plot_h = H - BOTTOM - TOP
    slot = (W - LEFT - 16) / max(len(cats), 1)
    bw = slot * 0.8 / max(len(series), 1)
    body = _axis(ymax) + _legend(list(series), colours=colours)
    for j, c in enumerate(cats):
        body.append(_text(LEFT + slot * (j + 0.5), H - BOTTOM + 14 + 10 * (j % 2 if len(cats) > 5 else 0), c,
                          size=10))
    for i, (s, pts) in enumerate(series.items()):
        for c, v, lo, hi in pts:
            x = LEFT + slot * cats.index(c) + slot * 0.1 + bw * i
            if v is None:
                body.append(_text(x + bw / 2, H - BOTTOM - 3, SUPPRESSED_MARK, size=9, extra=' fill="#999"'))
                continue
            h = plot_h * v / ymax
            body.append(f'<rect x="{_f(x)}" y="{_f(H - BOTTOM - h)}" width="{_f(bw)}" height="{_f(h)}" '
                        f'fill="{colour(i, s, colours)}"><title>{escape(f"{s} {c}: {v:.3g}")}</title></rect>')
            if lo is not None and hi is not None:
                body += _errorbar(x + bw / 2, lo, hi, ymax, plot_h)
    body.append(_text(W / 2, H - 6, x_label, size=11))
    return _svg(body, name)


def _errorbar(x: float, lo: float, hi: float, ymax: float, plot_h: float, height: int = H) -> list[str]:
    y0, y1 = height - BOTTOM - plot_h * lo / ymax, height - BOTTOM - plot_h * hi / ymax
    return [f'<line x1="{_f(x)}" y1="{_f(y0)}" x2="{_f(x)}" y2="{_f(y1)}" stroke="#222"/>',
            f'<line x1="{_f(x - 3)}" y1="{_f(y0)}" x2="{_f(x + 3)}" y2="{_f(y0)}" stroke="#222"/>',
            f'<line x1="{_f(x - 3)}" y1="{_f(y1)}" x2="{_f(x + 3)}" y2="{_f(y1)}" stroke="#222"/>']


def lines(series: dict[str, list[tuple[str, float | None]]], name: str, x_label: str = "",
          colours: dict[str, str] | None = None) -> str:
    """One line per series over shared categories; gaps where a value is suppressed."""
    cats = list(dict.fromkeys(c for pts in series.values() for c, _ in pts))
    vals = [v for pts in series.values() for _, v in pts if v is not None]
    ymax = nice(max(vals, default=1.0))
    plot_h = H - BOTTOM - TOP
    step = (W - LEFT - 40) / max(len(cats) - 1, 1)
    body = _axis(ymax) + _legend(list(series), colours=colours)
    for j, c in enumerate(cats):
        body.append(_text(LEFT + 16 + step * j, H - BOTTOM + 14, c, size=10))
    for i, (s, pts) in enumerate(series.items()):
        path = []
        for c, v in pts:
            x = LEFT + 16 + step * cats.index(c)
            if v is None:
                body.append(_text(x, H - BOTTOM - 3, SUPPRESSED_MARK, size=9, extra=' fill="#999"'))
                path.append(None)
                continue
            y = H - BOTTOM - plot_h * v / ymax
            path.append((x, y))
            body.append(f'<circle cx="{_f(x)}" cy="{_f(y)}" r="3.5" fill="{colour(i, s, colours)}">'
                        f'<title>{escape(f"{s} {c}: {v:.3g}")}</title></circle>')
        d, pen = [], "M"
        for p in path:
            if p is None:
                pen = "M"
                continue
            d.append(f"{pen}{_f(p[0])},{_f(p[1])}")
            pen = "L"
        if d:
            body.append(f'<path d="{" ".join(d)}" fill="none" stroke="{colour(i, s, colours)}" stroke-width="2"/>')
    body.append(_text(W / 2, H - 6, x_label, size=11))
    return _svg(body, name)


def stacked(rows: dict[str, list[tuple[str, float | None]]], name: str, colours: dict[str, str] | None = None) -> str:
    """Horizontal 100% bars: ``rows[group] = [(part, share), ...]``; suppressed parts left blank."""
    parts = list(dict.fromkeys(p for pts in rows.values() for p, _ in pts))
    height = TOP + 26 * len(rows) + 60
    body = _legend(parts, height - 34, colours)
    x0, width = 150, W - 160
    for k, (g, pts) in enumerate(rows.items()):
        y = TOP + 26 * k
        body.append(_text(x0 - 6, y + 14, g, "end", 11))
        body.append(f'<rect x="{x0}" y="{y}" width="{width}" height="18" fill="#f3f3f3" stroke="#ccc"/>')
        x = float(x0)
        for p, v in pts:
            if v is None or v <= 0:
                continue
            w = width * v
            body.append(f'<rect x="{_f(x)}" y="{y}" width="{_f(w)}" height="18" fill="{colour(parts.index(p), p, colours)}">'
                        f'<title>{escape(f"{g} {p}: {v:.2f}")}</title></rect>')
            x += w
    return _svg(body, name, height)


def sankey(bands: list[tuple[str, str, float]], name: str, title: str = "", left: list[str] | None = None,
           right: list[str] | None = None, width: int = 360, height: int = 220,
           colours: dict[str, str] | None = None) -> str:
    """A two-column Sankey: ``bands = [(source, target, flow), ...]``, band widths proportional to flow.

    Nodes are stacked in the order of ``left``/``right`` (default: first appearance);
    a node's height is the sum of its bands. Colour follows the source node.
    """
    left = left or list(dict.fromkeys(s for s, _, _ in bands))
    right = [n for n in right if any(b[1] == n for b in bands)] if right else list(dict.fromkeys(t for _, t, _ in bands))
    total = sum(f for *_, f in bands) or 1.0
    gap, top, nx, lx, rx = 8, 24, 10, 120, width - 110
    scale = (height - top - 8 - gap * max(len(left), len(right))) / total

    def stack(nodes, key):
        pos, y = {}, float(top)
        for n in nodes:
            size = sum(f for b in bands if b[key] == n for f in [b[2]]) * scale
            pos[n] = [y, size]
            y += size + gap
        return pos

    lp, rp = stack(left, 0), stack(right, 1)
    body = [_text(width / 2, 14, title, size=12, extra=' font-weight="bold"')]
    lcur, rcur = {n: p[0] for n, p in lp.items()}, {n: p[0] for n, p in rp.items()}
    for s, t, f in bands:
        h = f * scale
        y0, y1 = lcur[s], rcur[t]
        lcur[s] += h
        rcur[t] += h
        xa, xb, xm = lx + nx, rx, (lx + nx + rx) / 2
        d = (f"M{_f(xa)},{_f(y0)} C{_f(xm)},{_f(y0)} {_f(xm)},{_f(y1)} {_f(xb)},{_f(y1)} "
             f"L{_f(xb)},{_f(y1 + h)} C{_f(xm)},{_f(y1 + h)} {_f(xm)},{_f(y0 + h)} {_f(xa)},{_f(y0 + h)} Z")
        body.append(f'<path class="band" d="{d}" fill="{colour(left.index(s), s, colours)}" fill-opacity="0.45">'
                    f'<title>{escape(f"{s} → {t}: {f:.3g}")}</title></path>')
    for i, (n, (y, size)) in enumerate(lp.items()):
        if size > 0:
            body.append(f'<rect class="node" x="{lx}" y="{_f(y)}" width="{nx}" height="{_f(size)}" '
                        f'fill="{colour(i, n, colours)}"/>')
            body.append(_text(lx - 4, y + size / 2 + 4, n, "end", 10))
    for n, (y, size) in rp.items():
        if size > 0:
            body.append(f'<rect class="node" x="{rx}" y="{_f(y)}" width="{nx}" height="{_f(size)}" fill="#555"/>')
            body.append(_text(rx + nx + 4, y + size / 2 + 4, n, "start", 10))
    return (f'<svg class="chart sankey" data-chart="{escape(name)}" xmlns="http://www.w3.org/2000/svg" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">' + "".join(body) + "</svg>")
