"""The native record of each import format, as the API schema documents it (`adapters` maps them to readings).

Documentation only: the adapters check every record and name the field at fault (`records[3].value`). Records
may carry more keys than these (an export's other attributes): they are kept in each reading's `raw_payload`.
"""

from __future__ import annotations

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
    """Oura API v2 `sleep`: `hrv_rmssd`, `resting_heart_rate`, `sleep_duration` (hours), each when present."""

    id = serializers.CharField(help_text="Oura's id of the record.")
    day = serializers.DateField(required=False)
    bedtime_end = serializers.DateTimeField()
    average_hrv = serializers.FloatField(required=False, allow_null=True, help_text="Milliseconds.")
    lowest_heart_rate = serializers.FloatField(required=False, allow_null=True, help_text="Beats per minute.")
    total_sleep_duration = serializers.FloatField(required=False, allow_null=True, help_text="Seconds.")


class AppleHealthKitRecord(serializers.Serializer):
    """A HealthKit quantity sample as exported (JSON, or the attributes of an `export.xml` `<Record>`)."""

    uuid = serializers.CharField(help_text="The sample's UUID (its reading id in Kura).")
    type = serializers.ChoiceField(choices=sorted(adapters.HEALTHKIT_TYPES))
    startDate = serializers.CharField(  # noqa: N815 - HealthKit's own name
        help_text="ISO 8601, or HealthKit's export format `2024-03-10 08:00:00 +0100`."
    )
    endDate = serializers.CharField(required=False)  # noqa: N815 - HealthKit's own name
    value = serializers.CharField(help_text="A number (exports write it as text; JSON numbers are accepted).")
    unit = serializers.CharField(help_text="HealthKit's unit: count, count/min, ms, kg or lb, as the type takes.")


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
    "apple_health_kit": AppleHealthKitRecord,
    "kintsugi_voice": KintsugiVoiceRecord,
    "manual": ManualRecord,
}
