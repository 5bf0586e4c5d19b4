"""The native record of each import format, as the API schema documents it (`adapters` maps them to readings).

Documentation only: the adapters check every record and name the field at fault (`records[3].value`). Records
may carry more keys than these (an export's other attributes): they are kept in each reading's `raw_payload`.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from . import adapters


class OuraDailyReadinessRecord(serializers.Serializer):
    """Oura API v2 `daily_readiness`: `readiness_score`, and `temperature_deviation` when present."""

    id = serializers.CharField(help_text="Oura's id of the record.")
    day = serializers.DateField(required=False)
    timestamp = serializers.DateTimeField()
    score = serializers.FloatField(min_value=0, max_value=100)
    temperature_deviation = serializers.FloatField(required=False, allow_null=True, help_text="In degrees Celsius.")
    contributors = serializers.DictField(required=False)


class OuraSleepRecord(serializers.Serializer):
    """Oura API v2 `sleep`: `hrv_rmssd`, `resting_heart_rate`, `sleep_duration`, `sleep_in_bed`, `sleep_awake`,
    `sleep_light`, `sleep_deep`, `sleep_rem` (durations in hours), each when present."""

    id = serializers.CharField(help_text="Oura's id of the record.")
    day = serializers.DateField(required=False)
    bedtime_end = serializers.DateTimeField()
    average_hrv = serializers.FloatField(required=False, allow_null=True, help_text="Milliseconds.")
    lowest_heart_rate = serializers.FloatField(required=False, allow_null=True, help_text="Beats per minute.")
    total_sleep_duration = serializers.FloatField(required=False, allow_null=True, help_text="Seconds.")
    time_in_bed = serializers.FloatField(required=False, allow_null=True, help_text="Seconds.")
    awake_time = serializers.FloatField(required=False, allow_null=True, help_text="Seconds.")
    light_sleep_duration = serializers.FloatField(required=False, allow_null=True, help_text="Seconds.")
    deep_sleep_duration = serializers.FloatField(required=False, allow_null=True, help_text="Seconds.")
    rem_sleep_duration = serializers.FloatField(required=False, allow_null=True, help_text="Seconds.")


class OuraDailyActivityRecord(serializers.Serializer):
    """Oura API v2 `daily_activity`: `steps`, `activity_score`, `active_energy`, each when present (one at least)."""

    id = serializers.CharField(help_text="Oura's id of the record.")
    day = serializers.DateField(required=False)
    timestamp = serializers.DateTimeField(
        help_text="The start of Oura's day (04:00 local): the day's steps fall in it."
    )
    steps = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    score = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=100)
    active_calories = serializers.FloatField(required=False, allow_null=True, min_value=0, help_text="Kilocalories.")


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "number"}]})
class TextOrNumberField(serializers.JSONField):
    """A value exports write as text and JSON sends as a number."""


class AppleHealthKitRecord(serializers.Serializer):
    """A HealthKit sample as exported (JSON, or the attributes of an `export.xml` `<Record>`): a quantity sample
    (its metric), or a `HKCategoryTypeIdentifierSleepAnalysis` interval (its stage, for its length in hours)."""

    uuid = serializers.CharField(
        required=False,
        help_text="The sample's UUID (its reading id in Kura). `export.xml` records have none: their id is then "
        "derived from the type, sourceName, dates, value and unit, so the same export imported again stores nothing "
        "twice.",
    )
    type = serializers.ChoiceField(choices=sorted([*adapters.HEALTHKIT_TYPES, adapters.HEALTHKIT_SLEEP]))
    sourceName = serializers.CharField(required=False, help_text="The app or device that wrote the sample.")  # noqa: N815 - HealthKit's own name
    startDate = serializers.CharField(  # noqa: N815 - HealthKit's own name
        help_text="ISO 8601, or HealthKit's export format `2024-03-10 08:00:00 +0100`."
    )
    endDate = serializers.CharField(  # noqa: N815 - HealthKit's own name
        required=False, help_text="As `startDate`; required for sleep (the interval's end)."
    )
    value = TextOrNumberField(
        help_text="A quantity: a number (exports write it as text). Sleep: the stage as export.xml names it ("
        f"{', '.join(adapters.SLEEP_STAGES)}) or HealthKit's number for it "
        f"({', '.join(f'{number} {metric}' for number, metric in adapters.SLEEP_STAGE_NUMBERS.items())})."
    )
    unit = serializers.CharField(
        required=False,
        help_text="HealthKit's unit (count, count/min, ms, kg or lb, kcal, mg/dL, as the type takes); none for sleep.",
    )


class DexcomEgvRecord(serializers.Serializer):
    """A Dexcom API v3 estimated glucose value (`egvs` record): `blood_glucose` (clinical PHI: the caller needs
    PHI access)."""

    recordId = serializers.CharField(help_text="Dexcom's id of the record.")  # noqa: N815 - Dexcom's own name
    systemTime = serializers.CharField(help_text="ISO 8601 with its UTC offset (`2025-03-02T14:05:00Z`).")  # noqa: N815 - Dexcom's own name
    displayTime = serializers.CharField(required=False, help_text="The device's local time (kept, not read).")  # noqa: N815 - Dexcom's own name
    value = serializers.FloatField(help_text="mg/dL.")
    unit = serializers.ChoiceField(choices=["mg/dL"], required=False)
    trend = serializers.CharField(required=False)


class KintsugiPrediction(serializers.Serializer):
    score = serializers.FloatField(required=False)
    severity = serializers.CharField(required=False)


class KintsugiPredictions(serializers.Serializer):
    depression = KintsugiPrediction(required=False)
    anxiety = KintsugiPrediction(required=False)


class KintsugiVoiceRecord(serializers.Serializer):
    """A Kintsugi voice-analysis result: `voice_depression_score`, `voice_depression_severity`,
    `voice_anxiety_score`."""

    session_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["complete"], help_text="Only complete results are imported.")
    recorded_at = serializers.DateTimeField()
    predictions = KintsugiPredictions()


class ManualRecord(serializers.Serializer):
    """A reading typed in by hand, with the catalog's metric code and unit."""

    entry_id = serializers.CharField()
    metric_type = serializers.CharField(help_text="A metric code of `/biomarkers/metrics/`.")
    value = serializers.JSONField(help_text="A number, or the text of a categorical metric's choice.")
    unit = serializers.CharField(required=False, help_text="The metric's unit in the catalog.")
    recorded_at = serializers.DateTimeField()
    note = serializers.CharField(required=False)


RECORD_FORMATS: dict[str, type[serializers.Serializer]] = {
    "oura_daily_readiness": OuraDailyReadinessRecord,
    "oura_sleep": OuraSleepRecord,
    "oura_daily_activity": OuraDailyActivityRecord,
    "apple_health_kit": AppleHealthKitRecord,
    "dexcom_egv": DexcomEgvRecord,
    "kintsugi_voice": KintsugiVoiceRecord,
    "manual": ManualRecord,
}
