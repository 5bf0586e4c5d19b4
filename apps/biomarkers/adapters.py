"""Adapters from each partner's native records to Kura readings; every reading keeps its record in `raw_payload`.

Formats (one JSON object per record):

* ``oura_daily_readiness`` — Oura API v2 ``daily_readiness``:
  ``{"id", "day", "timestamp", "score", "temperature_deviation", "contributors": {...}}``
  → ``readiness_score``, ``temperature_deviation``.
* ``oura_sleep`` — Oura API v2 ``sleep`` (where Oura reports HRV):
  ``{"id", "day", "bedtime_end", "average_hrv", "lowest_heart_rate", "total_sleep_duration" (s)}``
  → ``hrv_rmssd``, ``resting_heart_rate``, ``sleep_duration``.
* ``apple_health_kit`` — a HealthKit quantity sample as exported (JSON, or the attributes of an
  ``export.xml`` ``<Record>``): ``{"uuid", "type": "HKQuantityTypeIdentifier...", "startDate", "endDate",
  "value", "unit"}``; dates may be ISO 8601 or ``2024-03-10 08:00:00 +0100``.
* ``kintsugi_voice`` — a Kintsugi voice-analysis result:
  ``{"session_id", "status": "complete", "recorded_at", "predictions": {"depression": {"score", "severity"},
  "anxiety": {"score"}}}`` → ``voice_depression_score``, ``voice_depression_severity``, ``voice_anxiety_score``.
* ``manual`` — ``{"entry_id", "metric_type", "value", "unit", "recorded_at", "note"}``.
"""

from __future__ import annotations

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
    fields = [
        ("average_hrv", "hrv_rmssd", "ms", 1.0),
        ("lowest_heart_rate", "resting_heart_rate", "bpm", 1.0),
        ("total_sleep_duration", "sleep_duration", "h", 1 / 3600),
    ]
    return [
        _reading(
            source, f"sleep:{record_id}:{native}", metric, unit, when, record,
            value_numeric=round(_number(record, native) * factor, 4),
        )
        for native, metric, unit, factor in fields
        if record.get(native) is not None
    ]  # fmt: skip


# HealthKit type -> (metric, {HealthKit unit: (Kura unit, factor)})
HEALTHKIT_TYPES: dict[str, tuple[str, dict[str, tuple[str, float]]]] = {
    "HKQuantityTypeIdentifierStepCount": ("steps", {"count": ("count", 1.0)}),
    "HKQuantityTypeIdentifierHeartRate": ("heart_rate", {"count/min": ("bpm", 1.0)}),
    "HKQuantityTypeIdentifierRestingHeartRate": ("resting_heart_rate", {"count/min": ("bpm", 1.0)}),
    "HKQuantityTypeIdentifierHeartRateVariabilitySDNN": ("hrv_sdnn", {"ms": ("ms", 1.0)}),
    "HKQuantityTypeIdentifierBodyMass": ("body_weight", {"kg": ("kg", 1.0), "lb": ("kg", 0.45359237)}),
}


def apple_health_kit(record: Mapping[str, Any]) -> list[Reading]:
    sample_type = _required(record, "type")
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
            Source.APPLE_HEALTH_KIT.value, str(_required(record, "uuid")), metric, unit,
            _timestamp(record, "startDate"), record, value_numeric=round(value, 4),
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
    "apple_health_kit": apple_health_kit,
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
    """Map native records of one patient to readings, collecting per-record errors (numbered from first_index)."""
    adapter = ADAPTERS[format_name]
    result = Adapted(readings=[], row_names=[], errors={})
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
        for reading in readings:
            result.readings.append({"patient_id": patient_id, **reading})
            result.row_names.append(name)
    return result
