"""Bulk ingestion through the API: idempotent, all-or-nothing, per-row errors, PHI rules, tenant isolation."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from django.utils import timezone

from apps.biomarkers.models import BiomarkerLog
from apps.organizations.roles import Role, Scope
from tests.biomarkers.factories import depression_reading, reading
from tests.conftest import add_member, api_client, as_tenant, issue_key, logged_in
from tests.factories import PatientFactory

URL = "/api/v1/biomarkers/readings/"
IMPORT_URL = "/api/v1/biomarkers/imports/"
BIOMARKER_SCOPES = [Scope.BIOMARKERS_READ, Scope.BIOMARKERS_WRITE]


@pytest.fixture
def clinic(org_a, org_b):
    """Org A with a patient and keys with and without PHI access; org B with its own patient."""
    with as_tenant(org_a):
        patient = PatientFactory()
    with as_tenant(org_b):
        other_patient = PatientFactory()
    return {
        "org": org_a,
        "other_org": org_b,
        "patient": patient,
        "other_patient": other_patient,
        "partner": api_client(issue_key(org_a, scopes=BIOMARKER_SCOPES)),
        "phi_partner": api_client(issue_key(org_a, scopes=BIOMARKER_SCOPES, phi_access=True)),
        "other_partner": api_client(issue_key(org_b, scopes=BIOMARKER_SCOPES, phi_access=True)),
    }


def post(client, body, url=URL):
    return client.post(
        url, data=json.dumps(body) if not isinstance(body, str) else body, content_type="application/json"
    )


def stored(org):
    """(source_reading_id, metric, value) of every reading and the number of history rows, as the owner sees them."""
    with as_tenant(org):
        readings = sorted(BiomarkerLog.objects.values_list("source_reading_id", "metric_type", "value_numeric"))
        return readings, BiomarkerLog.history.count()


def test_a_retried_batch_stores_nothing_twice(clinic):
    batch = [reading(clinic["patient"].pk, source_reading_id=f"hk-{i}", value_numeric=1000.0 + i) for i in range(3)]

    first = post(clinic["partner"], {"readings": batch})
    retry = post(clinic["partner"], {"readings": batch})

    assert first.status_code == 201
    assert first.json() == {"received": 3, "created": 3, "duplicates": 0, "corrected": 0}
    assert retry.status_code == 200
    assert retry.json() == {"received": 3, "created": 0, "duplicates": 3, "corrected": 0}
    readings, history = stored(clinic["org"])
    assert readings == [(f"hk-{i}", "steps", 1000.0 + i) for i in range(3)]
    assert history == 3


def test_a_partly_new_batch_stores_only_the_new_readings(clinic):
    old = reading(clinic["patient"].pk, source_reading_id="hk-old")
    post(clinic["partner"], {"readings": [old]})

    response = post(clinic["partner"], {"readings": [old, reading(clinic["patient"].pk, source_reading_id="hk-new")]})

    assert response.json() == {"received": 2, "created": 1, "duplicates": 1, "corrected": 0}
    assert [r[0] for r in stored(clinic["org"])[0]] == ["hk-new", "hk-old"]
    assert stored(clinic["org"])[1] == 2


def test_a_batch_with_one_bad_row_stores_nothing_and_names_that_row(clinic):
    batch = [reading(clinic["patient"].pk) for _ in range(5)]
    batch[3]["unit"] = "steps"

    response = post(clinic["partner"], {"readings": batch})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["fields"] == {"readings[3].unit": ["Must be 'count' for this metric type."]}
    assert error["message"] == "readings[3].unit: Must be 'count' for this metric type."
    assert stored(clinic["org"]) == ([], 0)


FUTURE = (timezone.now() + dt.timedelta(days=2)).isoformat()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"metric_type": "blood_sugar"}, "metric_type", "Unknown metric type."),
        ({"source": "polar"}, "source", "Unknown source"),
        ({"unit": "kcal"}, "unit", "Must be 'count'"),
        ({"value_numeric": "NaN"}, "value_numeric", "Must be a finite number."),
        ({"value_numeric": "12"}, "value_numeric", "Must be a finite number."),
        ({"value_numeric": True}, "value_numeric", "Must be a finite number."),
        ({"value_numeric": -5.0}, "value_numeric", "Must be between 0 and 150000 count."),
        ({"captured_at": "2025-03-01T10:00:00"}, "captured_at", "Must include a timezone offset"),
        ({"captured_at": FUTURE}, "captured_at", "Must not be in the future."),
        ({"captured_at": "yesterday"}, "captured_at", "Must be an ISO 8601 timestamp string."),
        ({"source_reading_id": ""}, "source_reading_id", "Must be a non-empty string"),
        ({"patient_id": "not-a-uuid"}, "patient_id", "Must be a patient UUID."),
        ({"patient_id": 12}, "patient_id", "Must be a patient UUID."),
        ({"captured_at": "2025-03-01"}, "captured_at", "Must include a timezone offset"),
        ({"raw_payload": {"note": "x" * 20_000}}, "raw_payload", "Must be at most 20000 characters of JSON."),
        ({"raw_payload": [1, 2]}, "raw_payload", "Must be a JSON object."),
        ({"colour": "red"}, "colour", "Unknown field."),
        ({"source": "kintsugi_voice"}, "metric_type", "This source does not report this metric type."),
    ],
)
def test_bad_rows_are_rejected_naming_row_and_field(clinic, overrides, field, message):
    batch = [reading(clinic["patient"].pk), reading(clinic["patient"].pk, **overrides)]

    response = post(clinic["phi_partner"], {"readings": batch})

    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert list(fields) == [f"readings[1].{field}"]
    assert fields[f"readings[1].{field}"][0].startswith(message)
    assert stored(clinic["org"]) == ([], 0)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_json_literals_are_rejected_naming_row_and_field(clinic, literal):
    good = json.dumps(reading(clinic["patient"].pk))
    bad = json.dumps(reading(clinic["patient"].pk, value_numeric=0.0)).replace(
        '"value_numeric": 0.0', f'"value_numeric": {literal}'
    )
    assert literal in bad

    response = post(clinic["partner"], f'{{"readings": [{good}, {bad}]}}')

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"readings[1].value_numeric": ["Must be a finite number."]}
    assert stored(clinic["org"]) == ([], 0)


def test_a_batch_over_the_limit_is_rejected_and_stores_nothing(clinic):
    batch = [reading(clinic["patient"].pk) for _ in range(10_001)]

    response = post(clinic["partner"], {"readings": batch})

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"readings": ["Ensure this field has no more than 10000 elements."]}
    assert stored(clinic["org"]) == ([], 0)


def test_a_batch_at_the_limit_is_stored_with_its_history(clinic):
    start = timezone.now() - dt.timedelta(days=8)
    batch = [
        reading(clinic["patient"].pk, metric_type="heart_rate", value_numeric=60.0 + i % 40, unit="bpm",
                captured_at=(start + dt.timedelta(minutes=i)).isoformat(), source_reading_id=f"hr-{i}")
        for i in range(10_000)
    ]  # fmt: skip

    response = post(clinic["partner"], {"readings": batch})

    assert response.status_code == 201
    assert response.json() == {"received": 10_000, "created": 10_000, "duplicates": 0, "corrected": 0}
    with as_tenant(clinic["org"]):
        assert BiomarkerLog.objects.count() == 10_000
        assert BiomarkerLog.history.filter(history_type="+").count() == 10_000


def test_repeated_reading_ids_within_a_batch_are_named(clinic):
    batch = [
        reading(clinic["patient"].pk, source_reading_id="same"),
        reading(clinic["patient"].pk, source_reading_id="same"),
    ]

    response = post(clinic["partner"], {"readings": batch})

    assert response.json()["error"]["fields"] == {
        "readings[1].source_reading_id": ["Repeats the reading of row 0 in this batch."]
    }
    assert stored(clinic["org"]) == ([], 0)


def test_phi_readings_need_a_partner_with_phi_access(clinic):
    batch = [reading(clinic["patient"].pk), depression_reading(clinic["patient"].pk, source_reading_id="voice-1")]

    refused = post(clinic["partner"], {"readings": batch})
    accepted = post(clinic["phi_partner"], {"readings": batch})

    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {
        "readings[1].metric_type": ["This metric is clinical PHI; the caller has no PHI access."]
    }
    assert accepted.status_code == 201
    with as_tenant(clinic["org"]):
        assert dict(BiomarkerLog.objects.values_list("metric_type", "data_classification")) == {
            "steps": "GENERAL_WELLNESS",
            "voice_depression_score": "CLINICAL_PHI",
        }


def test_a_coach_may_ingest_wellness_but_not_phi(clinic):
    coach = logged_in(add_member(clinic["org"], Role.COACH))

    refused = post(coach, {"readings": [depression_reading(clinic["patient"].pk)]})
    accepted = post(coach, {"readings": [reading(clinic["patient"].pk, source_reading_id="coach-1")]})

    assert refused.status_code == 400
    assert list(refused.json()["error"]["fields"]) == ["readings[0].metric_type"]
    assert accepted.status_code == 201
    assert stored(clinic["org"])[0] == [("coach-1", "steps", 6500.0)]


def test_a_partner_cannot_write_readings_for_another_organizations_patient(clinic):
    response = post(clinic["partner"], {"readings": [reading(clinic["other_patient"].pk)]})

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"readings[0].patient_id": ["Unknown patient."]}
    assert stored(clinic["org"]) == ([], 0)
    assert stored(clinic["other_org"]) == ([], 0)


def test_the_same_reading_id_in_two_organizations_is_two_readings(clinic):
    post(clinic["partner"], {"readings": [reading(clinic["patient"].pk, source_reading_id="shared-id")]})
    response = post(
        clinic["other_partner"], {"readings": [reading(clinic["other_patient"].pk, source_reading_id="shared-id")]}
    )

    assert response.json() == {"received": 1, "created": 1, "duplicates": 0, "corrected": 0}
    assert stored(clinic["org"])[0] == [("shared-id", "steps", 6500.0)]
    assert stored(clinic["other_org"])[0] == [("shared-id", "steps", 6500.0)]


def test_a_key_without_the_biomarkers_write_scope_is_refused(clinic, org_a):
    reader = api_client(issue_key(org_a, scopes=[Scope.BIOMARKERS_READ]))

    response = post(reader, {"readings": [reading(clinic["patient"].pk)]})

    assert response.status_code == 403
    assert stored(clinic["org"]) == ([], 0)


def test_native_records_are_imported_through_their_adapter_keeping_the_original(clinic):
    record = {
        "id": "oura-sleep-1",
        "day": "2025-03-01",
        "bedtime_end": "2025-03-01T06:40:00+01:00",
        "average_hrv": 48,
        "lowest_heart_rate": 51,
        "total_sleep_duration": 27000,
    }
    body = {"format": "oura_sleep", "patient_id": str(clinic["patient"].pk), "records": [record]}

    response = post(clinic["partner"], body, url=IMPORT_URL)

    assert response.status_code == 201
    assert response.json() == {"received": 3, "created": 3, "duplicates": 0, "corrected": 0}
    with as_tenant(clinic["org"]):
        rows = list(
            BiomarkerLog.objects.order_by("metric_type").values_list(
                "metric_type", "value_numeric", "unit", "source", "raw_payload", "captured_at"
            )
        )
    when = dt.datetime(2025, 3, 1, 5, 40, tzinfo=dt.UTC)
    assert rows == [
        ("hrv_rmssd", 48.0, "ms", "oura_api", record, when),
        ("resting_heart_rate", 51.0, "bpm", "oura_api", record, when),
        ("sleep_duration", 7.5, "h", "oura_api", record, when),
    ]


def test_a_bad_native_record_stores_nothing_and_names_the_record(clinic):
    good = {"id": "s1", "bedtime_end": "2025-03-01T06:40:00+00:00", "average_hrv": 40}
    bad = {"id": "s2", "bedtime_end": "2025-03-02T06:40:00+00:00", "average_hrv": "lots"}
    body = {"format": "oura_sleep", "patient_id": str(clinic["patient"].pk), "records": [good, bad]}

    response = post(clinic["partner"], body, url=IMPORT_URL)

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"records[1].average_hrv": ["Must be a number."]}
    assert stored(clinic["org"]) == ([], 0)


def test_history_rows_copy_the_stored_reading_and_name_the_actor(clinic, org_a):
    from apps.biomarkers import services
    from apps.organizations.models import APIKey

    captured = (timezone.now() - dt.timedelta(hours=1)).isoformat()
    response = post(
        clinic["partner"],
        {"readings": [reading(clinic["patient"].pk, source_reading_id="actor-1", captured_at=captured)]},
    )
    assert response.status_code == 201
    staff = add_member(org_a, Role.CLINICIAN)
    with as_tenant(org_a, Role.CLINICIAN, user_id=staff.pk):
        services.biomarker_readings_ingest(
            readings=[
                reading(clinic["patient"].pk, source_reading_id="actor-2", captured_at=captured),
                reading(clinic["patient"].pk, source_reading_id="actor-1", captured_at=captured),
            ]
        )
    with as_tenant(org_a):
        partner_key = APIKey.objects.order_by("created_at").first()
        stored = {log.source_reading_id: log for log in BiomarkerLog.objects.all()}
        history = {h.source_reading_id: h for h in BiomarkerLog.history.all()}
    # The repeated reading got no second history row; each row names who stored it.
    assert sorted(history) == ["actor-1", "actor-2"]
    assert history["actor-1"].history_api_key_id == partner_key.pk
    assert history["actor-1"].history_user_id is None
    assert history["actor-2"].history_user_id == staff.pk
    assert history["actor-2"].history_api_key_id is None
    for reading_id, log in stored.items():
        row = history[reading_id]
        assert row.history_type == "+"
        assert (row.id, row.patient_id, row.metric_type, row.value_numeric, row.unit, row.captured_at) == (
            log.id,
            log.patient_id,
            log.metric_type,
            log.value_numeric,
            log.unit,
            log.captured_at,
        )
        assert row.organization_id == org_a.id
        assert row.raw_payload == log.raw_payload == {"origin": "test"}


def test_a_device_clock_a_few_minutes_ahead_is_accepted(clinic):
    """Device clocks drift: 8 minutes ahead passes here, though it would be "future" for a clinical record."""
    ahead = (timezone.now() + dt.timedelta(minutes=8)).isoformat()

    response = post(clinic["partner"], {"readings": [reading(clinic["patient"].pk, captured_at=ahead)]})

    assert response.status_code == 201
    assert len(stored(clinic["org"])[0]) == 1


def test_ingested_readings_get_time_ordered_ids(clinic):
    """Version 7 ids: a later batch's ids sort after an earlier one's, so they append to the key's index."""
    first = [reading(clinic["patient"].pk, source_reading_id=f"early-{i}") for i in range(3)]
    second = [reading(clinic["patient"].pk, source_reading_id=f"late-{i}") for i in range(3)]
    assert post(clinic["partner"], {"readings": first}).status_code == 201
    time.sleep(0.002)
    assert post(clinic["partner"], {"readings": second}).status_code == 201
    with as_tenant(clinic["org"]):
        ids = dict(BiomarkerLog.objects.values_list("source_reading_id", "id"))
        history_ids = set(BiomarkerLog.history.values_list("id", flat=True))
    assert {i.version for i in ids.values()} == {7}
    assert max(ids[f"early-{i}"] for i in range(3)) < min(ids[f"late-{i}"] for i in range(3))
    assert history_ids == set(ids.values())


@pytest.mark.parametrize("letter", ["x", "é", "心"])
def test_a_raw_payload_is_stored_up_to_its_limit_in_json_characters(clinic, letter):
    # Characters, not escapes: a partner's note in another script has the same room as one in ASCII.
    at_limit = {"note": letter * (20_000 - len('{"note": ""}'))}
    over = {"note": letter * (20_001 - len('{"note": ""}'))}

    rejected = post(clinic["partner"], {"readings": [reading(clinic["patient"].pk, raw_payload=over)]})
    accepted = post(
        clinic["partner"], {"readings": [reading(clinic["patient"].pk, source_reading_id="big", raw_payload=at_limit)]}
    )

    assert rejected.status_code == 400
    assert list(rejected.json()["error"]["fields"]) == ["readings[0].raw_payload"]
    assert accepted.status_code == 201
    with as_tenant(clinic["org"]):
        assert BiomarkerLog.objects.get().raw_payload == at_limit


def test_a_capture_time_with_an_offset_is_stored_as_the_same_instant(clinic):
    local = (
        (timezone.now() - dt.timedelta(hours=1)).replace(microsecond=0).astimezone(dt.timezone(dt.timedelta(hours=2)))
    )
    batch = [
        reading(clinic["patient"].pk, source_reading_id="offset", captured_at=local.isoformat()),
        reading(clinic["patient"].pk, source_reading_id="zulu", captured_at="2025-03-01T10:00:00Z"),
    ]

    response = post(clinic["partner"], {"readings": batch})

    assert response.status_code == 201
    with as_tenant(clinic["org"]):
        stored_at = dict(BiomarkerLog.objects.values_list("source_reading_id", "captured_at"))
    assert stored_at["offset"] == local
    assert stored_at["zulu"] == dt.datetime(2025, 3, 1, 10, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "This field is required."),
        ({"readings": "hk-1"}, 'Expected a list of items but got type "str".'),
        ({"readings": {"0": {}}}, 'Expected a list of items but got type "dict".'),
        ({"readings": []}, "This list may not be empty."),
    ],
)
def test_a_batch_that_is_not_a_list_of_rows_is_refused_naming_the_field(clinic, body, message):
    response = post(clinic["partner"], body)

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"readings": [message]}
    assert stored(clinic["org"]) == ([], 0)
