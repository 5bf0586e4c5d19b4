"""Adapters from each partner's native records to Kura readings; every reading keeps its record in `raw_payload`.

Formats (one JSON object per record):

* ``oura_daily_readiness`` — Oura API v2 ``daily_readiness``:
  ``{"id", "day", "timestamp", "score", "temperature_deviation", "contributors": {...}}``
  → ``readiness_score``, ``temperature_deviation``.
* ``oura_sleep`` — Oura API v2 ``sleep`` (where Oura reports HRV):
  ``{"id", "day", "bedtime_end", "average_hrv", "lowest_heart_rate", "total_sleep_duration", "time_in_bed",
  "awake_time", "light_sleep_duration", "deep_sleep_duration", "rem_sleep_duration"}`` (durations in s)
  → ``hrv_rmssd``, ``resting_heart_rate``, ``sleep_duration``, ``sleep_in_bed``, ``sleep_awake``,
  ``sleep_light``, ``sleep_deep``, ``sleep_rem``.
* ``oura_daily_activity`` — Oura API v2 ``daily_activity``: ``{"id", "day", "timestamp", "steps", "score",
  "active_calories"}`` → ``steps``, ``activity_score``, ``active_energy``.
* ``apple_health_kit`` — a HealthKit sample as exported (JSON, or the attributes of an ``export.xml``
  ``<Record>``): ``{"uuid", "type", "sourceName", "startDate", "endDate", "value", "unit"}``; dates may be ISO
  8601 or ``2024-03-10 08:00:00 +0100``. Quantity types (``HKQuantityTypeIdentifier...``, see
  ``HEALTHKIT_TYPES``) give their metric; ``HKCategoryTypeIdentifierSleepAnalysis`` gives one reading per
  interval, its stage (``value``: ``HKCategoryValueSleepAnalysisAsleepDeep`` ... or HealthKit's number) as the
  metric (``SLEEP_STAGES``) and its length in hours as the value. ``export.xml`` records carry no ``uuid``: their
  id is then derived from what they say (type, source, start, end, value, unit), so importing the same export
  again stores nothing twice.
* ``dexcom_egv`` — a Dexcom API v3 estimated glucose value: ``{"recordId", "systemTime", "value", "unit":
  "mg/dL"}`` → ``blood_glucose`` (clinical PHI: the caller needs PHI access).
* ``kintsugi_voice`` — a Kintsugi voice-analysis result:
  ``{"session_id", "status": "complete", "recorded_at", "predictions": {"depression": {"score", "severity"},
  "anxiety": {"score"}}}`` → ``voice_depression_score``, ``voice_depression_severity``, ``voice_anxiety_score``.
* ``manual`` — ``{"entry_id", "metric_type", "value", "unit", "recorded_at", "note"}``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .catalog import Source

Reading = dict[str, Any]


class AdapterError(ValueError):
    """A native record that cannot be mapped; `field` names the native field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _required(record: Mapping[str, Any], name: str) -> Any:
    value = record.get(name)
    if value is None or value == "":
        raise AdapterError(name, "This field is required.")
    return value


def _number(record: Mapping[str, Any], name: str) -> float:
    value = _required(record, name)
    if isinstance(value, bool):
        raise AdapterError(name, "Must be a number.")
    try:
        # Exports carry numbers as strings too; non-finite values pass through and fail validation by row.
        return float(value)
    except (TypeError, ValueError):
        raise AdapterError(name, "Must be a number.") from None


def _timestamp(record: Mapping[str, Any], name: str) -> str:
    value = _required(record, name)
    if not isinstance(value, str):
        raise AdapterError(name, "Must be a timestamp string.")
    try:
        # HealthKit's export.xml style: "2024-03-10 08:00:00 +0100".
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S %z").isoformat()
    except ValueError:
        return value  # ISO 8601, checked (timezone, future) by the ingestion service


def _moment(record: Mapping[str, Any], name: str) -> datetime:
    """A timestamp the adapter computes with (a sleep interval's length): it must carry its UTC offset."""
    text = _timestamp(record, name)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise AdapterError(name, "Must be an ISO 8601 timestamp or 'YYYY-MM-DD hh:mm:ss +hhmm'.") from None
    if moment.utcoffset() is None:
        raise AdapterError(name, "Must include a timezone offset (e.g. 'Z' or '+02:00').")
    return moment


def _reading(
    source: str, reading_id: str, metric: str, unit: str, captured_at: str, record: Mapping[str, Any], **value: Any
) -> Reading:
    return {
        "source": source,
        "source_reading_id": reading_id,
        "metric_type": metric,
        "unit": unit,
        "captured_at": captured_at,
        "raw_payload": dict(record),
        **value,
    }


def oura_daily_readiness(record: Mapping[str, Any]) -> list[Reading]:
    record_id = str(_required(record, "id"))
    when = _timestamp(record, "timestamp")
    source = Source.OURA_API.value
    readings = [
        _reading(
            source, f"daily_readiness:{record_id}:score", "readiness_score", "score", when, record,
            value_numeric=_number(record, "score"),
        )
    ]  # fmt: skip
    if record.get("temperature_deviation") is not None:
        readings.append(
            _reading(
                source, f"daily_readiness:{record_id}:temperature_deviation", "temperature_deviation", "degC",
                when, record, value_numeric=_number(record, "temperature_deviation"),
            )
        )  # fmt: skip
    return readings


def oura_sleep(record: Mapping[str, Any]) -> list[Reading]:
    record_id = str(_required(record, "id"))
    when = _timestamp(record, "bedtime_end")
    source = Source.OURA_API.value
    hours = 1 / 3600
    fields = [
        ("average_hrv", "hrv_rmssd", "ms", 1.0),
        ("lowest_heart_rate", "resting_heart_rate", "bpm", 1.0),
        ("total_sleep_duration", "sleep_duration", "h", hours),
        ("time_in_bed", "sleep_in_bed", "h", hours),
        ("awake_time", "sleep_awake", "h", hours),
        ("light_sleep_duration", "sleep_light", "h", hours),
        ("deep_sleep_duration", "sleep_deep", "h", hours),
        ("rem_sleep_duration", "sleep_rem", "h", hours),
    ]
    return [
        _reading(
            source, f"sleep:{record_id}:{native}", metric, unit, when, record,
            value_numeric=round(_number(record, native) * factor, 4),
        )
        for native, metric, unit, factor in fields
        if record.get(native) is not None
    ]  # fmt: skip


def oura_daily_activity(record: Mapping[str, Any]) -> list[Reading]:
    """A day's activity; `timestamp` is the start of Oura's day (04:00 local), so the day's steps fall in it."""
    record_id = str(_required(record, "id"))
    when = _timestamp(record, "timestamp")
    fields = [
        ("steps", "steps", "count"),
        ("score", "activity_score", "score"),
        ("active_calories", "active_energy", "kcal"),
    ]
    readings = [
        _reading(
            Source.OURA_API.value, f"daily_activity:{record_id}:{native}", metric, unit, when, record,
            value_numeric=_number(record, native),
        )
        for native, metric, unit in fields
        if record.get(native) is not None
    ]  # fmt: skip
    if not readings:
        raise AdapterError("steps", "No steps, score or active calories in this record.")
    return readings


# HealthKit type -> (metric, {HealthKit unit: (Kura unit, factor)})
HEALTHKIT_TYPES: dict[str, tuple[str, dict[str, tuple[str, float]]]] = {
    "HKQuantityTypeIdentifierStepCount": ("steps", {"count": ("count", 1.0)}),
    "HKQuantityTypeIdentifierHeartRate": ("heart_rate", {"count/min": ("bpm", 1.0)}),
    "HKQuantityTypeIdentifierRestingHeartRate": ("resting_heart_rate", {"count/min": ("bpm", 1.0)}),
    "HKQuantityTypeIdentifierHeartRateVariabilitySDNN": ("hrv_sdnn", {"ms": ("ms", 1.0)}),
    "HKQuantityTypeIdentifierBodyMass": ("body_weight", {"kg": ("kg", 1.0), "lb": ("kg", 0.45359237)}),
    "HKQuantityTypeIdentifierActiveEnergyBurned": ("active_energy", {"kcal": ("kcal", 1.0), "Cal": ("kcal", 1.0)}),
    "HKQuantityTypeIdentifierBloodGlucose": ("blood_glucose", {"mg/dL": ("mg/dL", 1.0)}),
}
HEALTHKIT_SLEEP = "HKCategoryTypeIdentifierSleepAnalysis"
# HealthKit sleep stage (as export.xml names it, and as HKCategoryValueSleepAnalysis numbers it) -> metric.
_STAGE_PREFIX = "HKCategoryValueSleepAnalysis"
SLEEP_STAGES: dict[str, str] = {
    f"{_STAGE_PREFIX}InBed": "sleep_in_bed",
    f"{_STAGE_PREFIX}AsleepUnspecified": "sleep_asleep",
    f"{_STAGE_PREFIX}Asleep": "sleep_asleep",  # before iOS 16
    f"{_STAGE_PREFIX}Awake": "sleep_awake",
    f"{_STAGE_PREFIX}AsleepCore": "sleep_light",
    f"{_STAGE_PREFIX}AsleepDeep": "sleep_deep",
    f"{_STAGE_PREFIX}AsleepREM": "sleep_rem",
}
SLEEP_STAGE_NUMBERS = {
    0: "sleep_in_bed",
    1: "sleep_asleep",
    2: "sleep_awake",
    3: "sleep_light",
    4: "sleep_deep",
    5: "sleep_rem",
}
# What identifies an export.xml record that has no uuid: the same record exported again gives the same id.
HEALTHKIT_IDENTITY = ("type", "sourceName", "startDate", "endDate", "value", "unit")


def healthkit_maps(sample_type: object) -> bool:
    """Whether the HealthKit type has a metric here (an export holds many that have none)."""
    return sample_type == HEALTHKIT_SLEEP or sample_type in HEALTHKIT_TYPES


def healthkit_reading_id(record: Mapping[str, Any]) -> str:
    """The record's `uuid`, or an id derived from what it says (export.xml records have no uuid)."""
    if record.get("uuid") not in (None, ""):
        return str(record["uuid"])
    identity = json.dumps([record.get(name) for name in HEALTHKIT_IDENTITY], separators=(",", ":"), default=str)
    return "hk-export:" + hashlib.sha256(identity.encode()).hexdigest()


def _sleep_stage(record: Mapping[str, Any]) -> str:
    value = _required(record, "value")
    numbered = isinstance(value, int) and not isinstance(value, bool)
    stage = SLEEP_STAGE_NUMBERS.get(value) if numbered else SLEEP_STAGES.get(str(value))
    if stage is None:
        raise AdapterError("value", f"Unknown sleep stage; use one of: {', '.join(SLEEP_STAGES)}.")
    return stage


def apple_health_kit(record: Mapping[str, Any]) -> list[Reading]:
    sample_type = _required(record, "type")
    reading_id = healthkit_reading_id(record)
    if sample_type == HEALTHKIT_SLEEP:
        metric = _sleep_stage(record)
        start, end = _moment(record, "startDate"), _moment(record, "endDate")
        if end < start:
            raise AdapterError("endDate", "Must not be before startDate.")
        hours = (end - start).total_seconds() / 3600
        return [
            _reading(
                Source.APPLE_HEALTH_KIT.value, reading_id, metric, "h", start.isoformat(), record,
                value_numeric=round(hours, 4),
            )
        ]  # fmt: skip
    if sample_type not in HEALTHKIT_TYPES:
        raise AdapterError("type", "Unsupported HealthKit sample type.")
    metric, units = HEALTHKIT_TYPES[sample_type]
    native_unit = record.get("unit")
    if native_unit not in units:
        raise AdapterError("unit", f"Expected one of: {', '.join(units)}.")
    unit, factor = units[native_unit]
    value = _number(record, "value") * factor
    return [
        _reading(
            Source.APPLE_HEALTH_KIT.value, reading_id, metric, unit, _timestamp(record, "startDate"), record,
            value_numeric=round(value, 4),
        )
    ]  # fmt: skip


def dexcom_egv(record: Mapping[str, Any]) -> list[Reading]:
    if record.get("unit") not in (None, "mg/dL"):
        raise AdapterError("unit", "Expected mg/dL.")
    return [
        _reading(
            Source.DEXCOM.value, str(_required(record, "recordId")), "blood_glucose", "mg/dL",
            _timestamp(record, "systemTime"), record, value_numeric=_number(record, "value"),
        )
    ]  # fmt: skip


def kintsugi_voice(record: Mapping[str, Any]) -> list[Reading]:
    session = str(_required(record, "session_id"))
    if record.get("status") != "complete":
        raise AdapterError("status", "Only complete results can be imported.")
    when = _timestamp(record, "recorded_at")
    predictions = record.get("predictions")
    if not isinstance(predictions, Mapping):
        raise AdapterError("predictions", "Must be an object.")
    source = Source.KINTSUGI_VOICE.value
    readings: list[Reading] = []
    depression = predictions.get("depression")
    if isinstance(depression, Mapping):
        if depression.get("score") is not None:
            readings.append(
                _reading(
                    source, f"{session}:depression_score", "voice_depression_score", "score", when, record,
                    value_numeric=_number(depression, "score"),
                )
            )  # fmt: skip
        if depression.get("severity") is not None:
            readings.append(
                _reading(
                    source, f"{session}:depression_severity", "voice_depression_severity", "category", when,
                    record, value_text=str(depression["severity"]),
                )
            )  # fmt: skip
    anxiety = predictions.get("anxiety")
    if isinstance(anxiety, Mapping) and anxiety.get("score") is not None:
        readings.append(
            _reading(
                source, f"{session}:anxiety_score", "voice_anxiety_score", "score", when, record,
                value_numeric=_number(anxiety, "score"),
            )
        )  # fmt: skip
    if not readings:
        raise AdapterError("predictions", "No depression or anxiety result in this record.")
    return readings


def manual(record: Mapping[str, Any]) -> list[Reading]:
    value = _required(record, "value")
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    return [
        _reading(
            Source.MANUAL_INPUT.value, str(_required(record, "entry_id")), str(_required(record, "metric_type")),
            str(record.get("unit", "")), _timestamp(record, "recorded_at"), record,
            **({"value_numeric": value} if numeric else {"value_text": str(value)}),
        )
    ]  # fmt: skip


ADAPTERS: dict[str, Callable[[Mapping[str, Any]], list[Reading]]] = {
    "oura_daily_readiness": oura_daily_readiness,
    "oura_sleep": oura_sleep,
    "oura_daily_activity": oura_daily_activity,
    "apple_health_kit": apple_health_kit,
    "dexcom_egv": dexcom_egv,
    "kintsugi_voice": kintsugi_voice,
    "manual": manual,
}


@dataclass
class Adapted:
    readings: list[Reading]
    # For each reading, the name of the record it came from (`records[3]`), so errors point at the record.
    row_names: list[str]
    errors: dict[str, list[str]]


def adapt(*, format_name: str, records: Sequence[Any], patient_id: str, first_index: int = 0) -> Adapted:
    """Map native records of one patient to readings, collecting per-record errors (numbered from first_index).

    A record repeated word for word (exports hold some) is the same measurement: it is mapped once."""
    adapter = ADAPTERS[format_name]
    result = Adapted(readings=[], row_names=[], errors={})
    seen: set[str] = set()
    for index, record in enumerate(records, start=first_index):
        name = f"records[{index}]"
        if not isinstance(record, Mapping):
            result.errors.setdefault(f"{name}.non_field_errors", []).append("Each record must be a JSON object.")
            continue
        try:
            readings = adapter(record)
        except AdapterError as error:
            result.errors.setdefault(f"{name}.{error.field}", []).append(error.message)
            continue
        fingerprint = json.dumps(record, sort_keys=True, default=str)
        if fingerprint in seen:
            continue
        seen.add(fingerprint)
        for reading in readings:
            result.readings.append({"patient_id": patient_id, **reading})
            result.row_names.append(name)
    return result
