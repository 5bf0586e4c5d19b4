"""Partner adapters, the import command and the demo seed."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count

from apps.biomarkers import adapters, demo
from apps.biomarkers.models import BiomarkerLog
from tests.conftest import as_tenant, make_organization
from tests.factories import PatientFactory


def test_oura_daily_readiness_maps_score_and_temperature():
    record = {"id": "r1", "day": "2025-03-01", "timestamp": "2025-03-01T00:00:00+00:00", "score": 82,
              "temperature_deviation": -0.2, "contributors": {"hrv_balance": 80}}  # fmt: skip
    readings = adapters.oura_daily_readiness(record)
    assert [(r["metric_type"], r["value_numeric"], r["unit"], r["source_reading_id"]) for r in readings] == [
        ("readiness_score", 82.0, "score", "daily_readiness:r1:score"),
        ("temperature_deviation", -0.2, "degC", "daily_readiness:r1:temperature_deviation"),
    ]
    assert all(r["raw_payload"] == record and r["source"] == "oura_api" for r in readings)


def test_healthkit_sample_converts_units_and_export_dates():
    record = {"uuid": "hk-1", "type": "HKQuantityTypeIdentifierBodyMass", "unit": "lb", "value": "154.3",
              "startDate": "2025-03-01 08:00:00 +0100"}  # fmt: skip
    [result] = adapters.apple_health_kit(record)
    assert (result["metric_type"], result["unit"], result["value_numeric"]) == ("body_weight", "kg", 69.9893)
    assert result["captured_at"] == "2025-03-01T08:00:00+01:00"
    with pytest.raises(adapters.AdapterError) as error:
        adapters.apple_health_kit({**record, "type": "HKQuantityTypeIdentifierDietaryWater"})
    assert error.value.field == "type"


def test_kintsugi_result_maps_scores_and_severity_and_refuses_incomplete_results():
    record = {
        "session_id": "s1",
        "status": "complete",
        "recorded_at": "2025-03-01T10:00:00Z",
        "predictions": {"depression": {"score": 12, "severity": "moderate"}, "anxiety": {"score": 6}},
    }
    readings = adapters.kintsugi_voice(record)
    assert [(r["metric_type"], r.get("value_numeric"), r.get("value_text")) for r in readings] == [
        ("voice_depression_score", 12.0, None),
        ("voice_depression_severity", None, "moderate"),
        ("voice_anxiety_score", 6.0, None),
    ]
    with pytest.raises(adapters.AdapterError) as error:
        adapters.kintsugi_voice({**record, "status": "processing"})
    assert error.value.field == "status"


def test_manual_entry_passes_metric_and_unit_through():
    [result] = adapters.manual({"entry_id": "m1", "metric_type": "mood_score", "value": 6, "unit": "score",
                                "recorded_at": "2025-03-01T20:00:00Z"})  # fmt: skip
    assert (result["source"], result["metric_type"], result["value_numeric"]) == ("manual_input", "mood_score", 6)


def sleep_records(count, bad_index=None):
    records = [
        {"id": f"s{i}", "bedtime_end": f"2025-02-{1 + i % 28:02d}T06:30:00+00:00", "average_hrv": 40 + i % 20}
        for i in range(count)
    ]
    if bad_index is not None:
        records[bad_index]["average_hrv"] = "high"
    return records


@pytest.mark.usefixtures("committed")
def test_import_command_imports_once_with_a_progress_bar(tmp_path):
    org_a, org_b = make_organization("org-a"), make_organization("org-b")
    with as_tenant(org_a):
        PatientFactory(mrn="IMP-1")
    path = tmp_path / "sleep.json"
    path.write_text(json.dumps({"data": sleep_records(2500)}))
    args = [str(path), "--organization", "org-a", "--patient", "IMP-1", "--format", "oura_sleep"]
    out, err = io.StringIO(), io.StringIO()

    call_command("import_biomarkers", *args, stdout=out, stderr=err)
    again = io.StringIO()
    call_command("import_biomarkers", *args, stdout=again, stderr=io.StringIO())

    assert "2500 record(s): 2500 reading(s) stored, 0 already present, 0 corrected." in out.getvalue()
    assert "\r[" + "#" * 30 + "] 2500/2500 records" in err.getvalue()
    assert "1000/2500 records" in err.getvalue()
    assert "2500 record(s): 0 reading(s) stored, 2500 already present, 0 corrected." in again.getvalue()
    with as_tenant(org_a):
        assert BiomarkerLog.objects.count() == 2500
    with as_tenant(org_b):
        assert BiomarkerLog.objects.count() == 0


@pytest.mark.usefixtures("committed")
def test_import_command_with_a_bad_record_stores_nothing_and_names_it(tmp_path):
    org_a = make_organization("org-a")
    with as_tenant(org_a):
        PatientFactory(mrn="IMP-1")
    path = tmp_path / "sleep.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in sleep_records(1500, bad_index=1234)))

    with pytest.raises(CommandError, match=r"Nothing imported\. records\[1234\]\.average_hrv: Must be a number\."):
        call_command("import_biomarkers", str(path), "--organization", "org-a", "--patient", "IMP-1",
                     "--format", "oura_sleep", "--no-progress")  # fmt: skip
    with as_tenant(org_a):
        assert BiomarkerLog.objects.count() == 0


def test_demo_seed_adds_months_of_readings_from_every_source_once(org_a, org_b):
    with as_tenant(org_a):
        PatientFactory(mrn="DEMO-1")
        demo.seed(slug="org-a")
        by_source = dict(BiomarkerLog.objects.values_list("source").annotate(n=Count("id")).order_by())
        span = BiomarkerLog.objects.order_by("captured_at").values_list("captured_at", flat=True)
        days = (span.last() - span.first()).days
        demo.seed(slug="org-a")
        total_after_second_run = BiomarkerLog.objects.count()
        history = BiomarkerLog.history.count()
    with as_tenant(org_b):
        assert BiomarkerLog.objects.count() == 0
    assert by_source == {"kintsugi_voice": 51, "apple_health_kit": 600, "oura_api": 600, "manual_input": 57}
    assert days >= 118
    assert total_after_second_run == history == sum(by_source.values())
