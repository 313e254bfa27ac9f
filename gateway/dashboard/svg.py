"""Small inline SVG charts: per-minute bars and lines, and horizontal bars (quota, share,
score). Pure functions of plain numbers; every chart says in `data-points` how many values
it drew and carries a `<title>` per value, so a reader can hover a minute and a test can
count what is on the page."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 240, 44
_PAD = 2.0


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def minute_label(start_minute: int, index: int) -> str:
    """`HH:MM` (UTC) of bucket `index` of a series starting at `start_minute` (minutes since
    the epoch)."""
    minute = (start_minute + index) % (24 * 60)
    return f"{minute // 60:02d}:{minute % 60:02d}"


def bars(
    totals: Sequence[int],
    good: Sequence[int],
    *,
    start_minute: int,
    label: str,
    unit: str = "requests",
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """One bar per minute: the `good` part green, the rest of `totals` red on top."""
    count = len(totals)
    top = max(totals, default=0) or 1
    step = width / max(count, 1)
    bar = max(step - 1, 1.0)
    usable = height - _PAD
    parts = []
    drawn = 0
    for i, total in enumerate(totals):
        if not total:
            continue
        drawn += 1
        x = i * step
        ok = min(good[i], total)
        ok_h, bad_h = usable * ok / top, usable * (total - ok) / top
        tip = f"{minute_label(start_minute, i)}: {total} {unit}, {total - ok} failed"
        parts.append(f"<g><title>{escape(tip)}</title>")
        if ok_h:
            parts.append(
                f"<rect class='ok' x='{_fmt(x)}' y='{_fmt(height - ok_h)}' "
                f"width='{_fmt(bar)}' height='{_fmt(ok_h)}'/>"
            )
        if bad_h:
            parts.append(
                f"<rect class='fail' x='{_fmt(x)}' y='{_fmt(height - ok_h - bad_h)}' "
                f"width='{_fmt(bar)}' height='{_fmt(bad_h)}'/>"
            )
        parts.append("</g>")
    return _svg(parts, drawn, label, width, height, kind="bars")


def lines(
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    start_minute: int,
    label: str,
    unit: str = "ms",
    ceiling: float | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """One line per `(css class, values)`, broken where a minute has no value; a value with
    no neighbour is a dot. The y axis runs from 0 to `ceiling` (default: the largest value)."""
    values = [v for _, vs in series for v in vs if v is not None]
    top = ceiling or max(values, default=0) or 1
    count = max((len(vs) for _, vs in series), default=0)
    step = width / max(count, 1)
    usable = height - 2 * _PAD
    parts = []
    for css, vs in series:
        run: list[tuple[float, float, int]] = []
        for i, value in enumerate([*vs, None]):
            if value is not None:
                y = height - _PAD - usable * min(value, top) / top
                run.append((i * step + step / 2, y, i))
                continue
            if len(run) > 1:
                points = " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y, _ in run)
                parts.append(f"<polyline class='{css}' points='{points}'/>")
            for x, y, index in run:  # each value a (small) point with its own tooltip
                tip = f"{minute_label(start_minute, index)}: {_fmt(vs[index])} {unit}"
                parts.append(
                    f"<circle class='{css}' cx='{_fmt(x)}' cy='{_fmt(y)}' "
                    f"r='{'1.2' if len(run) > 1 else '2'}'><title>{escape(tip)}</title></circle>"
                )
            run = []
    return _svg(parts, len(values), label, width, height, kind="lines")


def _svg(parts: list[str], drawn: int, label: str, width: int, height: int, kind: str) -> str:
    baseline = f"<line class='axis' x1='0' y1='{height - 0.5}' x2='{width}' y2='{height - 0.5}'/>"
    return (
        f"<svg class='chart {kind}' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(label)}' "
        f"data-points='{drawn}'><title>{escape(label)}</title>{baseline}{''.join(parts)}</svg>"
    )


def meter(
    value: float,
    maximum: float,
    *,
    label: str,
    tone: str | None = None,
    width: int = 160,
    height: int = 12,
) -> str:
    """A horizontal bar filled to value/maximum: green, amber past 70%, red past 90%, or in
    the colour of `tone` (a CSS class) when it is not a level."""
    fraction = 0.0 if maximum <= 0 else max(0.0, min(1.0, value / maximum))
    level = tone or ("full" if fraction >= 0.9 else "high" if fraction >= 0.7 else "ok")
    return (
        f"<svg class='meter {level}' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(label)}' "
        f"data-fraction='{fraction:.3f}'><title>{escape(label)}</title>"
        f"<rect class='track' x='0' y='0' width='{width}' height='{height}' rx='2'/>"
        f"<rect class='fill' x='0' y='0' width='{_fmt(width * fraction)}' height='{height}' "
        "rx='2'/></svg>"
    )
