"""A server-side SVG picture of assessment scores over time (no JavaScript, no outside requests)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from . import scoring

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 40, 130, 15, 30
COLOURS = {"phq9": "#b3261e", "gad7": "#1d5fa8", "phq4": "#2e7d32"}
OTHER_COLOUR = "#6a4c93"


def score_trend_svg(points: Sequence[tuple[str, datetime, int, int]], *, title: str) -> SafeString:
    """Scores as a percentage of each instrument's maximum, one line per instrument, oldest on the left.

    `points` are (instrument code, completed_at, total, maximum total).
    """
    if not points:
        return SafeString("")
    times = [p[1].timestamp() for p in points]
    start, end = min(times), max(times)
    span = (end - start) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def xy(when: datetime, total: int, maximum: int) -> tuple[float, float]:
        x = LEFT + (when.timestamp() - start) / span * plot_w if end > start else LEFT + plot_w / 2
        y = TOP + plot_h * (1 - total / maximum) if maximum else TOP + plot_h
        return round(x, 1), round(y, 1)

    series: dict[str, list[tuple[float, float, int]]] = {}
    for code, when, total, maximum in sorted(points, key=lambda p: p[1]):
        x, y = xy(when, total, maximum)
        series.setdefault(code, []).append((x, y, total))

    grid = format_html_join(
        "",
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#ddd"/><text x="{}" y="{}" font-size="10" '
        'text-anchor="end" fill="#666">{}%</text>',
        (
            (
                LEFT,
                TOP + plot_h * (1 - f),
                LEFT + plot_w,
                TOP + plot_h * (1 - f),
                LEFT - 4,
                TOP + plot_h * (1 - f) + 3,
                int(f * 100),
            )
            for f in (0, 0.25, 0.5, 0.75, 1)
        ),
    )
    lines = []
    for index, (code, coords) in enumerate(sorted(series.items())):
        colour = COLOURS.get(code, OTHER_COLOUR)
        label = scoring.BUILTIN_INSTRUMENTS[code].name.split(" (")[0] if code in scoring.BUILTIN_INSTRUMENTS else code
        path = " ".join(f"{x},{y}" for x, y, _ in coords)
        dots = format_html_join(
            "",
            '<circle cx="{}" cy="{}" r="3" fill="{}"><title>{} {}</title></circle>',
            ((x, y, colour, label, total) for x, y, total in coords),
        )
        legend_y = TOP + 14 * index + 8
        lines.append(
            format_html(
                '<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>{}'
                '<rect x="{}" y="{}" width="10" height="10" fill="{}"/>'
                '<text x="{}" y="{}" font-size="11">{} (latest {})</text>',
                path,
                colour,
                dots,
                WIDTH - RIGHT + 10,
                legend_y - 9,
                colour,
                WIDTH - RIGHT + 24,
                legend_y,
                label,
                coords[-1][2],
            )
        )
    first, last = min(p[1] for p in points), max(p[1] for p in points)
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {} {}" width="{}" height="{}" '
        'class="kura-trend"><title>{}</title>{}{}'
        '<text x="{}" y="{}" font-size="10" fill="#666">{}</text>'
        '<text x="{}" y="{}" font-size="10" fill="#666" text-anchor="end">{}</text></svg>',
        WIDTH,
        HEIGHT,
        WIDTH,
        HEIGHT,
        title,
        grid,
        SafeString("".join(lines)),
        LEFT,
        HEIGHT - 8,
        first.date().isoformat(),
        LEFT + plot_w,
        HEIGHT - 8,
        last.date().isoformat(),
    )
