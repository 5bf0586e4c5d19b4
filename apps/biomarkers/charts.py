"""Server-side SVG trend charts drawn from bucketed data (no JavaScript, nothing fetched from another host).

Each chart shows, per bucket, the min-max envelope, the mean line and the metric's reference band; a bucket
whose extremes leave the reference range gets a marker. The drawing cost depends on the number of buckets,
never on the number of raw readings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .catalog import Metric
from .selectors import Bucket

WIDTH = 640
HEIGHT = 170
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 10, 26


@dataclass(frozen=True)
class Band:
    y: float
    height: float


@dataclass(frozen=True)
class Marker:
    x: float
    y: float


@dataclass
class Chart:
    metric: Metric
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM
    band: Band | None = None
    envelope: str = ""
    mean_line: str = ""
    markers: list[Marker] = field(default_factory=list)
    y_labels: list[tuple[float, str]] = field(default_factory=list)
    start_label: str = ""
    end_label: str = ""
    readings: int = 0
    latest_mean: float | None = None
    out_of_reference_buckets: int = 0

    @property
    def plot_width(self) -> int:
        return self.plot_right - self.plot_left

    @property
    def summary(self) -> str:
        return (
            f"{self.metric.label}: {self.readings} readings, "
            f"{self.out_of_reference_buckets} periods outside the reference range"
        )


def _fmt(value: float) -> str:
    return f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"


def draw(metric: Metric, buckets: list[Bucket], start: datetime, end: datetime) -> Chart:
    """Lay out one metric's buckets over [start, end) in SVG coordinates."""
    chart = Chart(metric=metric, start_label=f"{start:%Y-%m-%d}", end_label=f"{end:%Y-%m-%d}")
    if not buckets:
        return chart
    low = min(b.min for b in buckets)
    high = max(b.max for b in buckets)
    if metric.reference_low is not None:
        low = min(low, metric.reference_low)
    if metric.reference_high is not None:
        high = max(high, metric.reference_high)
    pad = (high - low) * 0.05 or 1.0
    low, high = low - pad, high + pad
    span = (end - start).total_seconds()

    def x(when: datetime) -> float:
        fraction = min(max((when - start).total_seconds() / span, 0.0), 1.0)
        return round(chart.plot_left + fraction * (chart.plot_right - chart.plot_left), 1)

    def y(value: float) -> float:
        fraction = (value - low) / (high - low)
        return round(chart.plot_bottom - fraction * (chart.plot_bottom - chart.plot_top), 1)

    if metric.reference_low is not None or metric.reference_high is not None:
        top = y(metric.reference_high if metric.reference_high is not None else high)
        bottom = y(metric.reference_low if metric.reference_low is not None else low)
        chart.band = Band(y=top, height=round(bottom - top, 1))

    upper = [f"{x(b.start)},{y(b.max)}" for b in buckets]
    lower = [f"{x(b.start)},{y(b.min)}" for b in reversed(buckets)]
    chart.envelope = " ".join(upper + lower)
    chart.mean_line = " ".join(f"{x(b.start)},{y(b.mean)}" for b in buckets)
    for b in buckets:
        if metric.out_of_reference(b.min, None) or metric.out_of_reference(b.max, None):
            chart.out_of_reference_buckets += 1
            chart.markers.append(Marker(x=x(b.start), y=y(b.mean)))
    chart.y_labels = [(y(value), _fmt(value)) for value in (low + pad, (low + high) / 2, high - pad)]
    chart.readings = sum(b.count for b in buckets)
    chart.latest_mean = buckets[-1].mean
    return chart
