"""How the chart shows clinical rows: a vital as written ("128/82 mmHg"), a vital's trend as a small inline SVG
(no script, no style attribute: the page's CSP allows neither), a problem with its ICD-10-CM descriptions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString

from apps import codes

from .models import Condition, Vital

SPARK_WIDTH, SPARK_HEIGHT, SPARK_PAD = 120, 28, 3


def vital_numbers(vital: Vital) -> list[float]:
    """The numbers of a reading: [systolic, diastolic] for a blood pressure, [value] otherwise."""
    value = vital.measurement_value if isinstance(vital.measurement_value, dict) else {}
    if vital.vital_type == Vital.Type.BLOOD_PRESSURE:
        return [float(value[key]) for key in ("systolic", "diastolic") if isinstance(value.get(key), int | float)]
    number = value.get("value")
    return [float(number)] if isinstance(number, int | float) and not isinstance(number, bool) else []


def _number_text(number: float) -> str:
    return f"{number:g}" if number == int(number) else f"{number:.1f}"


def vital_text(vital: Vital) -> str:
    """A reading as clinicians write it: "128/82 mmHg", "72 bpm", "36.8 Cel"."""
    numbers = vital_numbers(vital)
    if not numbers:
        return "—"
    return f"{'/'.join(_number_text(n) for n in numbers)} {vital.unit}".strip()


def sparkline(series: Sequence[Sequence[float]], *, label: str) -> SafeString:
    """A small trend picture, oldest reading on the left: one line per number of the reading (a blood pressure
    draws two). Empty below two readings."""
    if len(series) < 2:
        return SafeString("")
    values = [number for reading in series for number in reading]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = (SPARK_WIDTH - 2 * SPARK_PAD) / (len(series) - 1)
    lines = []
    for position in range(min(len(reading) for reading in series)):
        points = " ".join(
            f"{SPARK_PAD + index * step:.1f},"
            f"{SPARK_HEIGHT - SPARK_PAD - (reading[position] - low) / span * (SPARK_HEIGHT - 2 * SPARK_PAD):.1f}"
            for index, reading in enumerate(series)
        )
        lines.append(format_html('<polyline points="{}" fill="none" stroke="#1d5fa8" stroke-width="1.5"/>', points))
    return format_html(
        '<svg class="kura-sparkline" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{}" '
        'viewBox="0 0 {} {}" width="{}" height="{}"><title>{}</title>{}</svg>',
        label,
        SPARK_WIDTH,
        SPARK_HEIGHT,
        SPARK_WIDTH,
        SPARK_HEIGHT,
        label,
        SafeString("".join(lines)),
    )


@dataclass(frozen=True)
class VitalTrend:
    label: str
    latest: str
    measured_at: datetime
    earlier: list[tuple[datetime, str]]  # newest first
    picture: SafeString


def vital_trends(vitals: Sequence[Vital]) -> list[VitalTrend]:
    """One row per vital type, in the form's order: the latest reading, the earlier ones and their trend.
    `vitals` come newest first within each type (`selectors.patient_vital_history`)."""
    by_type: dict[str, list[Vital]] = {}
    for vital in vitals:
        by_type.setdefault(vital.vital_type, []).append(vital)
    trends = []
    for vital_type, label in Vital.Type.choices:
        readings = by_type.get(vital_type)
        if not readings:
            continue
        oldest_first = [vital_numbers(reading) for reading in reversed(readings) if vital_numbers(reading)]
        trends.append(
            VitalTrend(
                label=str(label),
                latest=vital_text(readings[0]),
                measured_at=readings[0].measurement_date,
                earlier=[(reading.measurement_date, vital_text(reading)) for reading in readings[1:]],
                picture=sparkline(oldest_first, label=f"{label}, last {len(readings)} readings"),
            )
        )
    return trends


@dataclass(frozen=True)
class Problem:
    condition: Condition
    codes: list[tuple[str, str]]  # (ICD-10-CM code, description)


def problems(conditions: Sequence[Any]) -> list[Problem]:
    """Conditions with their ICD-10-CM codes described by the code set (the stored display where it has none)."""
    return [
        Problem(
            condition=condition,
            codes=[
                (code.code, codes.icd10cm_description(code.code) or code.display)
                for code in getattr(condition.event, "icd10_codes", [])
            ],
        )
        for condition in conditions
    ]
