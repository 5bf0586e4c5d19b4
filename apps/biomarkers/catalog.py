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
    """Where a reading comes from: the partner that sends it, or a person. The one registry of sources: the
    model's `source` takes these values (a database check too), and each metric below names those that report it."""

    KINTSUGI_VOICE = "kintsugi_voice", "Kintsugi voice analysis"
    APPLE_HEALTH_KIT = "apple_health_kit", "Apple HealthKit"
    OURA_API = "oura_api", "Oura"
    MANUAL_INPUT = "manual_input", "Manual entry"
    FITBIT = "fitbit", "Fitbit"
    GARMIN = "garmin", "Garmin"
    WHOOP = "whoop", "Whoop"
    DEXCOM = "dexcom", "Dexcom continuous glucose monitor"
    WITHINGS = "withings", "Withings"
    # Any other device (a scale, a cuff, a ring) a partner relays as is; it may report every device metric.
    GENERIC_DEVICE = "generic_device", "Other device"


class Kind(models.TextChoices):
    NUMERIC = "numeric"
    TEXT = "text"


PHI = DataClassification.CLINICAL_PHI.value
WELLNESS = DataClassification.GENERAL_WELLNESS.value


def _sources(*sources: Source) -> tuple[str, ...]:
    """Sources of a metric, as stored: every metric a device reports may also be entered by hand or relayed by a
    generic device."""
    return (*(source.value for source in sources), Source.GENERIC_DEVICE.value, Source.MANUAL_INPUT.value)


HK, OURA, FITBIT, GARMIN, WHOOP, WITHINGS = (
    Source.APPLE_HEALTH_KIT,
    Source.OURA_API,
    Source.FITBIT,
    Source.GARMIN,
    Source.WHOOP,
    Source.WITHINGS,
)
# What each device reports, by what it measures (the partners' own APIs: a Whoop counts no steps, a Withings
# scale weighs, a Dexcom sensor only measures glucose).
ACTIVITY = _sources(HK, OURA, FITBIT, GARMIN, WITHINGS)
HEART = _sources(HK, OURA, FITBIT, GARMIN, WHOOP, WITHINGS)
HRV_RMSSD = _sources(OURA, FITBIT, WHOOP)
HRV_SDNN = _sources(HK, GARMIN)
SLEEP = _sources(HK, OURA, FITBIT, GARMIN, WHOOP, WITHINGS)
TEMPERATURE = _sources(HK, OURA, FITBIT, WHOOP)
WEIGHT = _sources(HK, FITBIT, GARMIN, WITHINGS)
ENERGY = _sources(HK, OURA, FITBIT, GARMIN, WHOOP)
SCORES = _sources(OURA, GARMIN, WHOOP)
GLUCOSE = _sources(HK, Source.DEXCOM)


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
        Metric("steps", "Steps", "count", WELLNESS, ACTIVITY, allowed_min=0, allowed_max=150_000, reference_low=5000),
        Metric(
            "active_energy", "Active energy burned", "kcal", WELLNESS, ENERGY, allowed_min=0, allowed_max=20_000,
        ),
        Metric(
            "activity_score", "Activity score", "score", WELLNESS, SCORES,
            allowed_min=0, allowed_max=100, reference_low=70, reference_high=100,
        ),
        Metric(
            "heart_rate", "Heart rate", "bpm", WELLNESS, HEART,
            allowed_min=20, allowed_max=250, reference_low=50, reference_high=100,
        ),
        Metric(
            "resting_heart_rate", "Resting heart rate", "bpm", WELLNESS, HEART,
            allowed_min=20, allowed_max=200, reference_low=40, reference_high=90,
        ),
        Metric(
            "hrv_rmssd", "Heart-rate variability (RMSSD)", "ms", WELLNESS, HRV_RMSSD,
            allowed_min=1, allowed_max=300, reference_low=20, reference_high=150,
        ),
        Metric(
            "hrv_sdnn", "Heart-rate variability (SDNN)", "ms", WELLNESS, HRV_SDNN,
            allowed_min=1, allowed_max=300, reference_low=30, reference_high=150,
        ),
        Metric(
            "readiness_score", "Readiness score", "score", WELLNESS, SCORES,
            allowed_min=0, allowed_max=100, reference_low=70, reference_high=100,
        ),
        Metric(
            "temperature_deviation", "Body temperature deviation", "degC", WELLNESS, TEMPERATURE,
            allowed_min=-5, allowed_max=5, reference_low=-0.5, reference_high=0.5,
        ),
        # A night's total sleep (Oura, Fitbit, Garmin, Whoop, Withings report it per night).
        Metric(
            "sleep_duration", "Sleep duration", "h", WELLNESS, SLEEP,
            allowed_min=0, allowed_max=24, reference_low=7, reference_high=9,
        ),
        # Sleep by stage: a device that reports intervals (HealthKit's sleep analysis) gives one reading per
        # interval, at its start, lasting this long; Oura gives a night's total per stage. Summed per day they
        # make the night (asleep = light + deep + REM + unspecified asleep).
        Metric("sleep_in_bed", "Time in bed", "h", WELLNESS, SLEEP, allowed_min=0, allowed_max=24),
        Metric("sleep_awake", "Awake during sleep", "h", WELLNESS, SLEEP, allowed_min=0, allowed_max=24),
        Metric("sleep_light", "Light (core) sleep", "h", WELLNESS, SLEEP, allowed_min=0, allowed_max=24),
        Metric("sleep_deep", "Deep sleep", "h", WELLNESS, SLEEP, allowed_min=0, allowed_max=24),
        Metric("sleep_rem", "REM sleep", "h", WELLNESS, SLEEP, allowed_min=0, allowed_max=24),
        Metric("sleep_asleep", "Asleep (stage not reported)", "h", WELLNESS, SLEEP, allowed_min=0, allowed_max=24),
        Metric("body_weight", "Body weight", "kg", WELLNESS, WEIGHT, allowed_min=1, allowed_max=500),
        # Interstitial glucose as a CGM reports it every 5 minutes (Dexcom's EGV range is 40-400 mg/dL): the
        # reading of a medical device that tells of a condition, so clinical PHI, like the voice scores.
        Metric(
            "blood_glucose", "Glucose", "mg/dL", PHI, GLUCOSE,
            allowed_min=20, allowed_max=600, reference_low=70, reference_high=180,
        ),
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
