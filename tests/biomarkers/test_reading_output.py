"""The series' reading representation renders exactly what DRF's declared fields render, from model instances
(latest, out of reference) and from the named rows a series page carries."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import namedtuple
from typing import Any

from rest_framework import serializers

from apps.biomarkers.api import ReadingOutput
from apps.biomarkers.models import BiomarkerLog
from apps.biomarkers.selectors import SERIES_POINT_FIELDS
from tests.organizations.test_rendering import refuse_output_rows


def declared_fields(instances: list[Any]) -> list[dict[str, Any]]:
    """The generic DRF path over the same declared fields."""
    return [serializers.Serializer.to_representation(ReadingOutput(), instance) for instance in instances]


def as_row(log: BiomarkerLog) -> Any:
    return namedtuple("Row", SERIES_POINT_FIELDS)(*(getattr(log, name) for name in SERIES_POINT_FIELDS))


def log(**fields: Any) -> BiomarkerLog:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "patient_id": uuid.uuid4(),
        "source": "oura_api",
        "source_reading_id": "r-1",
        "metric_type": "heart_rate",
        "value_numeric": 61.5,
        "value_text": None,
        "unit": "bpm",
        "captured_at": dt.datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=dt.UTC),
        "created_at": dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        "data_classification": "GENERAL_WELLNESS",
    }
    return BiomarkerLog(**{**values, **fields})


def test_direct_representation_equals_the_declared_fields() -> None:
    logs = [
        log(),
        log(value_numeric=130, source_reading_id="r-2"),  # an int from the database renders as a float
        log(value_numeric=None, value_text="severe", metric_type="voice_depression_severity", unit="category",
            source="kintsugi_voice", data_classification="CLINICAL_PHI"),
        log(metric_type="no_such_metric"),
    ]  # fmt: skip

    direct = ReadingOutput(logs, many=True).data
    generic = declared_fields(logs)
    rows = [as_row(log) for log in logs]

    assert json.dumps(direct) == json.dumps(generic)
    assert json.dumps(ReadingOutput(rows, many=True).data) == json.dumps(declared_fields(rows)) == json.dumps(generic)
    assert direct[0]["captured_at"] == "2026-03-01T08:30:15.123456Z"
    assert direct[0]["created_at"] == "2026-03-01T07:00:00Z"
    assert direct[1]["value_numeric"] == 130.0
    assert [row["out_of_reference"] for row in direct] == [False, True, True, False]


def test_series_rows_take_the_short_cut(monkeypatch) -> None:
    rows = [as_row(log()), as_row(log(value_numeric=None, value_text="severe"))]
    expected = declared_fields(rows)
    refuse_output_rows(monkeypatch)
    assert ReadingOutput(rows, many=True).data == expected
