"""The schema's record of each import format describes the records its adapter takes (`record_formats`)."""

from __future__ import annotations

import pytest

from apps.biomarkers import adapters
from apps.biomarkers.record_formats import RECORD_FORMATS
from tests.biomarkers.test_sources_and_formats import EXPORT

# A record of each format that its adapter maps to readings.
ACCEPTED = [
    ("oura_daily_readiness", {"id": "r-1", "timestamp": "2025-03-02T07:00:00Z", "score": 82}),
    ("oura_sleep", {"id": "s-1", "bedtime_end": "2025-03-02T06:30:00-06:00", "time_in_bed": 28800,
                    "deep_sleep_duration": 5400, "rem_sleep_duration": 5400}),
    ("oura_daily_activity", {"id": "a-1", "day": "2025-03-02", "timestamp": "2025-03-02T04:00:00-06:00",
                             "steps": 9412, "score": 81, "active_calories": 420}),
    ("apple_health_kit", {"uuid": "hk-1", "type": "HKQuantityTypeIdentifierBodyMass", "unit": "lb", "value": 154.3,
                          "startDate": "2025-03-02T08:00:00+01:00"}),
    *[("apple_health_kit", record) for record in EXPORT],  # export.xml: no uuid; sleep stages by name, no unit
    ("apple_health_kit", {"type": "HKCategoryTypeIdentifierSleepAnalysis", "value": 4,
                          "startDate": "2025-03-02T00:15:00-06:00", "endDate": "2025-03-02T01:00:00-06:00"}),
    ("dexcom_egv", {"recordId": "egv-1", "systemTime": "2025-03-02T14:05:00Z", "displayTime": "2025-03-02T08:05:00",
                    "value": 142, "unit": "mg/dL", "trend": "flat"}),
    ("kintsugi_voice", {"session_id": "k-1", "status": "complete", "recorded_at": "2025-03-02T07:00:00Z",
                        "predictions": {"depression": {"score": 0.4, "severity": "mild"}}}),
    ("manual", {"entry_id": "m-1", "metric_type": "steps", "value": 5000, "unit": "count",
                "recorded_at": "2025-03-02T07:00:00Z"}),
]  # fmt: skip


def test_every_format_has_a_documented_record_and_an_example_here():
    assert set(RECORD_FORMATS) == set(adapters.ADAPTERS) == {name for name, _ in ACCEPTED}


@pytest.mark.parametrize(("format_name", "record"), ACCEPTED)
def test_a_record_the_adapter_maps_is_one_the_schema_documents(format_name, record):
    documented = RECORD_FORMATS[format_name](data=record)

    assert documented.is_valid(), documented.errors
    assert adapters.ADAPTERS[format_name](record)


def test_the_healthkit_record_documents_the_export_and_sleep_shapes():
    fields = RECORD_FORMATS["apple_health_kit"]().fields

    assert not fields["uuid"].required
    assert not fields["unit"].required
    assert adapters.HEALTHKIT_SLEEP in fields["type"].choices
    assert set(adapters.HEALTHKIT_TYPES) < set(fields["type"].choices)
    for stage in adapters.SLEEP_STAGES:
        assert stage in fields["value"].help_text
