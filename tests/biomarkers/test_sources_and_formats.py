"""Devices beyond the first four, HealthKit's export.xml records (no uuid), sleep stages, Oura activity, Dexcom."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from apps.biomarkers import adapters, catalog
from apps.biomarkers.models import BiomarkerLog
from apps.organizations.roles import Scope
from tests.biomarkers.factories import reading
from tests.conftest import api_client, as_tenant, issue_key, make_organization
from tests.factories import PatientFactory

READINGS = "/api/v1/biomarkers/readings/"
IMPORTS = "/api/v1/biomarkers/imports/"
SCOPES = [Scope.BIOMARKERS_READ, Scope.BIOMARKERS_WRITE]


def post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def clinic(org_a, org_b):
    with as_tenant(org_a):
        patient = PatientFactory()
    with as_tenant(org_b):
        b_patient = PatientFactory()
    return {
        "org": org_a,
        "other_org": org_b,
        "patient": patient,
        "b_patient": b_patient,
        "partner": api_client(issue_key(org_a, scopes=SCOPES)),
        "phi_partner": api_client(issue_key(org_a, scopes=SCOPES, phi_access=True)),
        "b_partner": api_client(issue_key(org_b, scopes=SCOPES, phi_access=True)),
    }


def stored(org):
    with as_tenant(org):
        rows = BiomarkerLog.objects.order_by("captured_at", "metric_type")
        return [
            (r.source, r.source_reading_id, r.metric_type, r.value_numeric) for r in rows
        ], BiomarkerLog.history.count()


def test_every_device_source_is_declared_once_and_each_metric_names_its_sources():
    assert catalog.Source.values == [
        "kintsugi_voice", "apple_health_kit", "oura_api", "manual_input",
        "fitbit", "garmin", "whoop", "dexcom", "withings", "generic_device",
    ]  # fmt: skip
    assert catalog.METRICS["blood_glucose"].sources == ("apple_health_kit", "dexcom", "generic_device", "manual_input")
    assert "whoop" not in catalog.METRICS["steps"].sources
    assert {"fitbit", "garmin", "withings", "generic_device"} <= set(catalog.METRICS["steps"].sources)
    for metric in catalog.METRICS.values():
        assert set(metric.sources) <= set(catalog.Source.values)


@pytest.mark.parametrize(
    ("source", "metric", "unit", "value"),
    [
        ("fitbit", "steps", "count", 8000.0),
        ("garmin", "hrv_sdnn", "ms", 45.0),
        ("whoop", "hrv_rmssd", "ms", 62.0),
        ("withings", "body_weight", "kg", 71.5),
        ("generic_device", "heart_rate", "bpm", 64.0),
    ],
)
def test_a_device_partner_sends_readings_under_its_own_source(clinic, source, metric, unit, value):
    row = reading(clinic["patient"].pk, source=source, metric_type=metric, unit=unit, value_numeric=value)

    response = post(clinic["partner"], READINGS, {"readings": [row]})

    assert response.status_code == 201
    assert stored(clinic["org"])[0] == [(source, row["source_reading_id"], metric, value)]
    assert stored(clinic["other_org"]) == ([], 0)


def test_dexcom_glucose_is_phi_and_a_device_reports_only_what_it_measures(clinic):
    glucose = reading(clinic["patient"].pk, source="dexcom", metric_type="blood_glucose", unit="mg/dL",
                      value_numeric=112.0)  # fmt: skip
    whoop_steps = reading(clinic["patient"].pk, source="whoop")

    without_phi = post(clinic["partner"], READINGS, {"readings": [glucose]})
    wrong_device = post(clinic["partner"], READINGS, {"readings": [whoop_steps]})
    unknown = post(clinic["partner"], READINGS, {"readings": [reading(clinic["patient"].pk, source="polar")]})
    assert stored(clinic["org"]) == ([], 0)
    with_phi = post(clinic["phi_partner"], READINGS, {"readings": [glucose]})

    assert without_phi.json()["error"]["fields"] == {
        "readings[0].metric_type": ["This metric is clinical PHI; the caller has no PHI access."]
    }
    assert wrong_device.json()["error"]["fields"] == {
        "readings[0].metric_type": ["This source does not report this metric type."]
    }
    assert list(unknown.json()["error"]["fields"]) == ["readings[0].source"]
    assert "generic_device" in unknown.json()["error"]["fields"]["readings[0].source"][0]
    assert with_phi.status_code == 201
    assert stored(clinic["org"])[0] == [("dexcom", glucose["source_reading_id"], "blood_glucose", 112.0)]


# --- HealthKit export.xml ----------------------------------------------------------------------------------------

# Records as export.xml writes them (the attributes of <Record>): no uuid.
EXPORT = [
    {"type": "HKQuantityTypeIdentifierStepCount", "sourceName": "Ana's iPhone", "unit": "count", "value": "412",
     "creationDate": "2025-03-02 09:10:00 -0600", "startDate": "2025-03-02 09:00:00 -0600",
     "endDate": "2025-03-02 09:10:00 -0600"},
    {"type": "HKQuantityTypeIdentifierStepCount", "sourceName": "Ana's Apple Watch", "unit": "count", "value": "412",
     "startDate": "2025-03-02 09:00:00 -0600", "endDate": "2025-03-02 09:10:00 -0600"},
    {"type": "HKCategoryTypeIdentifierSleepAnalysis", "sourceName": "Ana's Apple Watch",
     "value": "HKCategoryValueSleepAnalysisInBed",
     "startDate": "2025-03-01 22:30:00 -0600", "endDate": "2025-03-02 06:30:00 -0600"},
    {"type": "HKCategoryTypeIdentifierSleepAnalysis", "sourceName": "Ana's Apple Watch",
     "value": "HKCategoryValueSleepAnalysisAsleepCore",
     "startDate": "2025-03-01 22:45:00 -0600", "endDate": "2025-03-02 00:15:00 -0600"},
    {"type": "HKCategoryTypeIdentifierSleepAnalysis", "sourceName": "Ana's Apple Watch",
     "value": "HKCategoryValueSleepAnalysisAsleepDeep",
     "startDate": "2025-03-02 00:15:00 -0600", "endDate": "2025-03-02 01:00:00 -0600"},
    {"type": "HKCategoryTypeIdentifierSleepAnalysis", "sourceName": "Ana's Apple Watch",
     "value": "HKCategoryValueSleepAnalysisAsleepREM",
     "startDate": "2025-03-02 01:00:00 -0600", "endDate": "2025-03-02 01:20:00 -0600"},
    {"type": "HKCategoryTypeIdentifierSleepAnalysis", "sourceName": "Ana's Apple Watch",
     "value": "HKCategoryValueSleepAnalysisAwake",
     "startDate": "2025-03-02 01:20:00 -0600", "endDate": "2025-03-02 01:26:00 -0600"},
]  # fmt: skip


def _import(client, patient, records, format_name="apple_health_kit"):
    return post(client, IMPORTS, {"format": format_name, "patient_id": str(patient.pk), "records": records})


def test_an_export_without_uuids_imports_with_derived_ids_and_again_stores_nothing(clinic):
    first = _import(clinic["partner"], clinic["patient"], EXPORT)
    after_first = stored(clinic["org"])
    again = _import(clinic["partner"], clinic["patient"], EXPORT)

    assert first.status_code == 201
    assert first.json() == {"received": 7, "created": 7, "duplicates": 0, "corrected": 0}
    assert again.status_code == 200
    assert again.json() == {"received": 7, "created": 0, "duplicates": 7, "corrected": 0}
    assert stored(clinic["org"]) == after_first
    readings, history = after_first
    assert history == 7
    assert [(metric, value) for _source, _id, metric, value in readings] == [
        ("sleep_in_bed", 8.0),
        ("sleep_light", 1.5),
        ("sleep_deep", 0.75),
        ("sleep_rem", 0.3333),
        ("sleep_awake", 0.1),
        ("steps", 412.0),  # the phone's and the watch's samples: two records, two readings
        ("steps", 412.0),
    ]
    ids = [reading_id for _source, reading_id, _metric, _value in readings]
    assert len(set(ids)) == 7
    assert all(reading_id.startswith("hk-export:") and len(reading_id) == 74 for reading_id in ids)
    assert stored(clinic["other_org"]) == ([], 0)


def test_the_derived_id_depends_on_what_the_record_says_only():
    record = EXPORT[0]
    same = adapters.healthkit_reading_id({**record, "creationDate": "2025-03-03 10:00:00 -0600"})
    assert adapters.healthkit_reading_id(record) == same
    assert adapters.healthkit_reading_id({**record, "value": "413"}) != same
    assert adapters.healthkit_reading_id({**record, "endDate": "2025-03-02 09:11:00 -0600"}) != same
    assert adapters.healthkit_reading_id({**record, "uuid": "0D1E"}) == "0D1E"


def test_a_record_repeated_word_for_word_in_an_export_is_one_reading(clinic):
    response = _import(clinic["partner"], clinic["patient"], [EXPORT[3], EXPORT[0], EXPORT[3]])

    assert response.json() == {"received": 2, "created": 2, "duplicates": 0, "corrected": 0}


def test_the_same_export_in_another_organization_is_its_own(clinic):
    _import(clinic["partner"], clinic["patient"], EXPORT)
    before = stored(clinic["org"])

    response = _import(clinic["b_partner"], clinic["b_patient"], EXPORT)

    assert response.json()["created"] == 7
    assert stored(clinic["org"]) == before
    assert len(stored(clinic["other_org"])[0]) == 7


def test_healthkit_sleep_stages_by_number_as_the_healthkit_api_gives_them():
    record = {"uuid": "S-1", "type": "HKCategoryTypeIdentifierSleepAnalysis", "value": 4,
              "startDate": "2025-03-02T00:15:00-06:00", "endDate": "2025-03-02T01:00:00-06:00"}  # fmt: skip
    [result] = adapters.apple_health_kit(record)
    assert (result["metric_type"], result["value_numeric"], result["unit"]) == ("sleep_deep", 0.75, "h")
    assert (result["source_reading_id"], result["captured_at"]) == ("S-1", "2025-03-02T00:15:00-06:00")


@pytest.mark.parametrize(
    ("broken", "field", "message"),
    [
        ({"value": "HKCategoryValueSleepAnalysisDreaming"}, "value", "Unknown sleep stage"),
        ({"value": True}, "value", "Unknown sleep stage"),
        ({"endDate": "2025-03-02 00:00:00 -0600"}, "endDate", "Must not be before startDate."),
        ({"startDate": "yesterday evening"}, "startDate", "Must be an ISO 8601 timestamp"),
        ({"startDate": "2025-03-02T00:15:00"}, "startDate", "Must include a timezone offset"),
        ({"endDate": None}, "endDate", "This field is required."),
        ({"type": "HKCategoryTypeIdentifierMindfulSession"}, "type", "Unsupported HealthKit sample type."),
    ],
)
def test_a_malformed_export_record_stores_nothing_and_is_named(clinic, broken, field, message):
    records = [EXPORT[0], {**EXPORT[4], **broken}]

    response = _import(clinic["partner"], clinic["patient"], records)

    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert list(fields) == [f"records[1].{field}"]
    assert fields[f"records[1].{field}"][0].startswith(message)
    assert stored(clinic["org"]) == ([], 0)


def test_a_sleep_interval_longer_than_a_day_is_refused(clinic):
    record = {**EXPORT[2], "endDate": "2025-03-03 06:30:00 -0600"}  # 32 hours in bed

    response = _import(clinic["partner"], clinic["patient"], [record])

    assert response.json()["error"]["fields"] == {"records[0].value_numeric": ["Must be between 0 and 24 h."]}
    assert stored(clinic["org"]) == ([], 0)


# --- Oura activity and sleep stages, Dexcom ---------------------------------------------------------------------


def test_oura_daily_activity_gives_steps_score_and_active_energy(clinic):
    record = {"id": "a-1", "day": "2025-03-02", "timestamp": "2025-03-02T04:00:00-06:00", "steps": 9412,
              "score": 81, "active_calories": 420, "contributors": {"move_every_hour": 90}}  # fmt: skip

    response = _import(clinic["partner"], clinic["patient"], [record], "oura_daily_activity")

    assert response.json() == {"received": 3, "created": 3, "duplicates": 0, "corrected": 0}
    assert sorted(stored(clinic["org"])[0]) == [
        ("oura_api", "daily_activity:a-1:active_calories", "active_energy", 420.0),
        ("oura_api", "daily_activity:a-1:score", "activity_score", 81.0),
        ("oura_api", "daily_activity:a-1:steps", "steps", 9412.0),
    ]
    nothing = _import(clinic["partner"], clinic["patient"], [{"id": "a-2", "timestamp": record["timestamp"]}],
                      "oura_daily_activity")  # fmt: skip
    assert nothing.json()["error"]["fields"] == {
        "records[0].steps": ["No steps, score or active calories in this record."]
    }


def test_oura_sleep_gives_the_nights_stages():
    record = {"id": "s-1", "bedtime_end": "2025-03-02T06:30:00-06:00", "total_sleep_duration": 25200,
              "time_in_bed": 28800, "awake_time": 3600, "light_sleep_duration": 14400, "deep_sleep_duration": 5400,
              "rem_sleep_duration": 5400}  # fmt: skip
    readings = adapters.oura_sleep(record)
    assert [(r["metric_type"], r["value_numeric"]) for r in readings] == [
        ("sleep_duration", 7.0), ("sleep_in_bed", 8.0), ("sleep_awake", 1.0),
        ("sleep_light", 4.0), ("sleep_deep", 1.5), ("sleep_rem", 1.5),
    ]  # fmt: skip


def test_dexcom_estimated_glucose_values_import_with_phi_access_only(clinic):
    records = [{"recordId": "egv-1", "systemTime": "2025-03-02T14:05:00Z", "displayTime": "2025-03-02T08:05:00",
                "value": 142, "unit": "mg/dL", "trend": "flat"}]  # fmt: skip

    refused = _import(clinic["partner"], clinic["patient"], records, "dexcom_egv")
    wrong_unit = _import(clinic["phi_partner"], clinic["patient"], [{**records[0], "unit": "mmol/L"}], "dexcom_egv")
    assert stored(clinic["org"]) == ([], 0)
    accepted = _import(clinic["phi_partner"], clinic["patient"], records, "dexcom_egv")

    assert refused.status_code == 400
    assert list(refused.json()["error"]["fields"]) == ["records[0].metric_type"]
    assert wrong_unit.json()["error"]["fields"] == {"records[0].unit": ["Expected mg/dL."]}
    assert accepted.status_code == 201
    assert stored(clinic["org"])[0] == [("dexcom", "egv-1", "blood_glucose", 142.0)]


# --- export.xml itself, through the import command ---------------------------------------------------------------

EXPORT_XML = """<?xml version="1.0" encoding="UTF-8"?>
<HealthData locale="en_US">
 <ExportDate value="2025-03-03 08:00:00 -0600"/>
 <Me HKCharacteristicTypeIdentifierBiologicalSex="HKBiologicalSexFemale"/>
 <Record type="HKQuantityTypeIdentifierStepCount" sourceName="Ana's iPhone" unit="count" value="412"
  creationDate="2025-03-02 09:10:00 -0600" startDate="2025-03-02 09:00:00 -0600" endDate="2025-03-02 09:10:00 -0600"/>
 <Record type="HKQuantityTypeIdentifierHeartRate" sourceName="Ana's Apple Watch" unit="count/min" value="64"
  startDate="2025-03-02 09:05:00 -0600" endDate="2025-03-02 09:05:00 -0600">
  <MetadataEntry key="HKMetadataKeyHeartRateMotionContext" value="0"/>
 </Record>
 <Record type="HKCategoryTypeIdentifierSleepAnalysis" sourceName="Ana's Apple Watch"
  value="HKCategoryValueSleepAnalysisAsleepDeep" startDate="2025-03-02 00:15:00 -0600"
  endDate="2025-03-02 01:00:00 -0600"/>
 <Record type="HKQuantityTypeIdentifierDietaryWater" sourceName="WaterMinder" unit="mL" value="250"
  startDate="2025-03-02 10:00:00 -0600" endDate="2025-03-02 10:00:00 -0600"/>
 <Workout workoutActivityType="HKWorkoutActivityTypeWalking" duration="30" durationUnit="min"
  startDate="2025-03-02 17:00:00 -0600" endDate="2025-03-02 17:30:00 -0600"/>
</HealthData>
"""


@pytest.mark.usefixtures("committed")
def test_the_import_command_reads_an_export_xml_once_and_leaves_out_types_without_a_metric(tmp_path):
    org, other = make_organization("org-a"), make_organization("org-b")
    with as_tenant(org):
        PatientFactory(mrn="HK-1")
    path = tmp_path / "export.xml"
    path.write_text(EXPORT_XML, encoding="utf-8")
    args = [str(path), "--organization", "org-a", "--patient", "HK-1", "--format", "apple_health_kit", "--no-progress"]
    first, again = io.StringIO(), io.StringIO()

    call_command("import_biomarkers", *args, stdout=first)
    after_first = stored(org)
    call_command("import_biomarkers", *args, stdout=again)

    assert "3 record(s): 3 reading(s) stored, 0 already present, 0 corrected. 1 record(s) of types without a metric " \
        "left out." in first.getvalue()  # fmt: skip
    assert "3 record(s): 0 reading(s) stored, 3 already present, 0 corrected." in again.getvalue()
    assert stored(org) == after_first
    assert [(metric, value) for _s, _id, metric, value in after_first[0]] == [
        ("sleep_deep", 0.75),
        ("steps", 412.0),
        ("heart_rate", 64.0),
    ]
    assert stored(other) == ([], 0)


@pytest.mark.usefixtures("committed")
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (EXPORT_XML.replace("</HealthData>", ""), r"export\.xml: not well-formed XML \(line 19\)\."),
        (
            '<?xml version="1.0"?><!DOCTYPE HealthData [<!ENTITY a "aaaa">]><HealthData>&a;</HealthData>',
            r"export\.xml: entity declarations are not accepted in an export\.",
        ),
    ],
)
def test_a_malformed_export_xml_stores_nothing(tmp_path, content, message):
    org = make_organization("org-a")
    with as_tenant(org):
        PatientFactory(mrn="HK-1")
    path = tmp_path / "export.xml"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(CommandError, match=message):
        call_command("import_biomarkers", str(path), "--organization", "org-a", "--patient", "HK-1",
                     "--format", "apple_health_kit", "--no-progress")  # fmt: skip
    assert stored(org) == ([], 0)
