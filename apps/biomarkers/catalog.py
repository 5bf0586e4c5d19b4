"""The metric catalog: what each metric type means, its unit, the values it may take and its reference range.

The catalog is code, not a table, on purpose:

* adapters map each partner's native fields onto these metric types, so a new metric needs code anyway;
* changes to units, ranges and classifications go through review and ship with the code that relies on them;
* it is the same for every organization, so it needs no row-level security and no migration to change.

A clinic-specific reference range (say, for an athlete) would be a table keyed on (organization, metric);
nothing here prevents adding one later.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from django.db import models

from apps.organizations.roles import DataClassification


class Source(models.TextChoices):
    KINTSUGI_VOICE = "kintsugi_voice", "Kintsugi voice analysis"
    APPLE_HEALTH_KIT = "apple_health_kit", "Apple HealthKit"
    OURA_API = "oura_api", "Oura"
    MANUAL_INPUT = "manual_input", "Manual entry"


class Kind(models.TextChoices):
    NUMERIC = "numeric"
    TEXT = "text"


PHI = DataClassification.CLINICAL_PHI.value
WELLNESS = DataClassification.GENERAL_WELLNESS.value
WEARABLES = (Source.APPLE_HEALTH_KIT.value, Source.OURA_API.value, Source.MANUAL_INPUT.value)


@dataclass(frozen=True)
class Metric:
    """One metric type. Numeric metrics have an allowed range (what is physically possible: outside it the
    reading is rejected) and a reference range (what is typical: outside it the reading is flagged)."""

    code: str
    label: str
    unit: str
    classification: str
    sources: tuple[str, ...]
    kind: str = Kind.NUMERIC
    allowed_min: float | None = None
    allowed_max: float | None = None
    reference_low: float | None = None
    reference_high: float | None = None
    choices: tuple[str, ...] = ()
    # For text metrics: the values that count as out of reference.
    abnormal_choices: tuple[str, ...] = field(default=())

    @property
    def is_numeric(self) -> bool:
        return self.kind == Kind.NUMERIC

    @property
    def is_phi(self) -> bool:
        return self.classification == PHI

    def out_of_reference(self, value_numeric: float | None, value_text: str | None) -> bool:
        """Whether a stored value lies outside the reference range (or is an abnormal category)."""
        if not self.is_numeric:
            return value_text in self.abnormal_choices
        if value_numeric is None or not math.isfinite(value_numeric):
            return False
        if self.reference_low is not None and value_numeric < self.reference_low:
            return True
        return self.reference_high is not None and value_numeric > self.reference_high


METRICS: dict[str, Metric] = {
    metric.code: metric
    for metric in [
        Metric("steps", "Steps", "count", WELLNESS, WEARABLES, allowed_min=0, allowed_max=150_000, reference_low=5000),
        Metric(
            "heart_rate", "Heart rate", "bpm", WELLNESS, WEARABLES,
            allowed_min=20, allowed_max=250, reference_low=50, reference_high=100,
        ),
        Metric(
            "resting_heart_rate", "Resting heart rate", "bpm", WELLNESS, WEARABLES,
            allowed_min=20, allowed_max=200, reference_low=40, reference_high=90,
        ),
        Metric(
            "hrv_rmssd", "Heart-rate variability (RMSSD)", "ms", WELLNESS, WEARABLES,
            allowed_min=1, allowed_max=300, reference_low=20, reference_high=150,
        ),
        Metric(
            "hrv_sdnn", "Heart-rate variability (SDNN)", "ms", WELLNESS, WEARABLES,
            allowed_min=1, allowed_max=300, reference_low=30, reference_high=150,
        ),
        Metric(
            "readiness_score", "Readiness score", "score", WELLNESS, (Source.OURA_API.value, Source.MANUAL_INPUT.value),
            allowed_min=0, allowed_max=100, reference_low=70, reference_high=100,
        ),
        Metric(
            "temperature_deviation", "Body temperature deviation", "degC", WELLNESS, WEARABLES,
            allowed_min=-5, allowed_max=5, reference_low=-0.5, reference_high=0.5,
        ),
        Metric(
            "sleep_duration", "Sleep duration", "h", WELLNESS, WEARABLES,
            allowed_min=0, allowed_max=24, reference_low=7, reference_high=9,
        ),
        Metric("body_weight", "Body weight", "kg", WELLNESS, WEARABLES, allowed_min=1, allowed_max=500),
        Metric(
            "mood_score", "Mood (self-reported)", "score", WELLNESS, (Source.MANUAL_INPUT.value,),
            allowed_min=1, allowed_max=10, reference_low=4, reference_high=10,
        ),
        Metric(
            "voice_depression_score", "Voice depression score (PHQ-9 scale)", "score", PHI,
            (Source.KINTSUGI_VOICE.value, Source.MANUAL_INPUT.value),
            allowed_min=0, allowed_max=27, reference_low=0, reference_high=9,
        ),
        Metric(
            "voice_anxiety_score", "Voice anxiety score (GAD-7 scale)", "score", PHI,
            (Source.KINTSUGI_VOICE.value, Source.MANUAL_INPUT.value),
            allowed_min=0, allowed_max=21, reference_low=0, reference_high=9,
        ),
        Metric(
            "voice_depression_severity", "Voice depression severity", "category", PHI,
            (Source.KINTSUGI_VOICE.value,), kind=Kind.TEXT,
            choices=("none", "mild", "moderate", "moderately_severe", "severe"),
            abnormal_choices=("moderate", "moderately_severe", "severe"),
        ),
    ]
}  # fmt: skip


def metric(code: str) -> Metric | None:
    return METRICS.get(code)


def numeric_reference_ranges() -> tuple[list[str], list[float | None], list[float | None]]:
    """Parallel arrays (metric, low, high) for the SQL that finds out-of-reference readings."""
    numeric = [m for m in METRICS.values() if m.is_numeric]
    lows = [None if m.reference_low is None else float(m.reference_low) for m in numeric]
    highs = [None if m.reference_high is None else float(m.reference_high) for m in numeric]
    return [m.code for m in numeric], lows, highs


def abnormal_text_values() -> tuple[list[str], list[str]]:
    """Parallel arrays (metric, value) of the categories that count as out of reference."""
    pairs = [(m.code, value) for m in METRICS.values() for value in m.abnormal_choices]
    return [p[0] for p in pairs], [p[1] for p in pairs]
