"""Sum buckets in the clinic's time zone (or a named one) across a DST change, and out-of-reference pages."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from apps.biomarkers.models import BiomarkerLog
from apps.organizations.query_params import documented_query_parameters
from apps.organizations.roles import Scope
from tests.biomarkers.factories import reading
from tests.conftest import api_client, as_tenant, issue_key
from tests.factories import PatientFactory

SCOPES = [Scope.BIOMARKERS_READ, Scope.BIOMARKERS_WRITE]
# Chicago springs forward on Sunday 9 March 2025 at 02:00: that local day lasts 23 hours (06:00Z to 05:00Z).
STEPS_AROUND_DST = [
    ("2025-03-08T05:30:00Z", 1000),  # Fri 7 Mar 23:30 CST
    ("2025-03-08T06:30:00Z", 2000),  # Sat 8 Mar 00:30 CST
    ("2025-03-09T05:59:00Z", 3000),  # Sat 8 Mar 23:59 CST
    ("2025-03-09T06:00:00Z", 4000),  # Sun 9 Mar 00:00 CST
    ("2025-03-10T04:30:00Z", 5000),  # Sun 9 Mar 23:30 CDT
    ("2025-03-10T05:30:00Z", 6000),  # Mon 10 Mar 00:30 CDT: a 24-hour day from Sunday's midnight would keep it
]
PERIOD = {"captured_since": "2025-03-07T00:00:00Z", "captured_before": "2025-03-12T00:00:00Z"}


def post(client, body):
    return client.post("/api/v1/biomarkers/readings/", data=json.dumps(body), content_type="application/json")


@pytest.fixture
def clinic(org_a, org_b):
    with as_tenant(org_a):
        org_a.time_zone = "America/Chicago"
        org_a.save()
        patient = PatientFactory()
    with as_tenant(org_b):
        b_patient = PatientFactory()
    partner = api_client(issue_key(org_a, scopes=SCOPES))
    b_partner = api_client(issue_key(org_b, scopes=SCOPES))
    rows = [
        reading(patient.pk, source="fitbit", source_reading_id=f"fb-{i}", captured_at=at, value_numeric=value)
        for i, (at, value) in enumerate(STEPS_AROUND_DST)
    ]
    assert post(partner, {"readings": rows}).status_code == 201
    # Org B's patient walks on the same days: none of it may reach org A's answers.
    b_rows = [
        reading(b_patient.pk, source="fitbit", source_reading_id=f"fb-{i}", captured_at=at, value_numeric=100)
        for i, (at, _value) in enumerate(STEPS_AROUND_DST)
    ]
    assert post(b_partner, {"readings": b_rows}).status_code == 201
    return {"org": org_a, "patient": patient, "b_patient": b_patient, "partner": partner, "b_partner": b_partner}


def series(client, patient, **params):
    return client.get(f"/api/v1/biomarkers/patients/{patient.pk}/series/", {"metric_type": "steps", **PERIOD, **params})


def test_daily_steps_are_summed_by_the_clinics_local_day_across_the_dst_change(clinic):
    response = series(clinic["partner"], clinic["patient"], bucket="day")

    assert response.status_code == 200
    body = response.json()
    assert body["tz"] == "America/Chicago"
    assert [(b["start"], b["count"], b["sum"], b["min"], b["max"]) for b in body["buckets"]] == [
        ("2025-03-07T00:00:00-06:00", 1, 1000.0, 1000.0, 1000.0),
        ("2025-03-08T00:00:00-06:00", 2, 5000.0, 2000.0, 3000.0),
        ("2025-03-09T00:00:00-06:00", 2, 9000.0, 4000.0, 5000.0),
        ("2025-03-10T00:00:00-05:00", 1, 6000.0, 6000.0, 6000.0),
    ]


def test_weekly_sums_start_on_the_clinics_monday(clinic):
    body = series(clinic["partner"], clinic["patient"], bucket="week").json()

    assert [(b["start"], b["count"], b["sum"], b["mean"]) for b in body["buckets"]] == [
        ("2025-03-03T00:00:00-06:00", 5, 15000.0, 3000.0),
        ("2025-03-10T00:00:00-05:00", 1, 6000.0, 6000.0),
    ]


def test_a_named_time_zone_buckets_by_its_days(clinic):
    utc = series(clinic["partner"], clinic["patient"], bucket="day", tz="UTC").json()
    pacific = series(clinic["partner"], clinic["patient"], bucket="day", tz="America/Los_Angeles").json()

    assert utc["tz"] == "UTC"
    assert [(b["start"], b["sum"]) for b in utc["buckets"]] == [
        ("2025-03-08T00:00:00Z", 3000.0),
        ("2025-03-09T00:00:00Z", 7000.0),
        ("2025-03-10T00:00:00Z", 11000.0),
    ]
    assert [(b["start"], b["sum"]) for b in pacific["buckets"]] == [
        ("2025-03-07T00:00:00-08:00", 3000.0),
        ("2025-03-08T00:00:00-08:00", 7000.0),
        ("2025-03-09T00:00:00-08:00", 11000.0),
    ]


def test_raw_points_are_shown_in_the_series_zone(clinic):
    points = series(clinic["partner"], clinic["patient"]).json()["points"]

    assert [p["captured_at"] for p in points][:2] == ["2025-03-07T23:30:00-06:00", "2025-03-08T00:30:00-06:00"]


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "EST5EDT,M3.2.0", "local", "x" * 65])
def test_an_unknown_time_zone_is_a_400_naming_tz(clinic, zone):
    response = series(clinic["partner"], clinic["patient"], bucket="day", tz=zone)

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["tz"]
    assert zone not in response.content.decode()


def test_another_organizations_key_reads_neither_the_patient_nor_its_sums(clinic):
    assert series(clinic["b_partner"], clinic["patient"], bucket="day").status_code == 404
    b_days = series(clinic["b_partner"], clinic["b_patient"], bucket="day").json()["buckets"]
    assert [b["sum"] for b in b_days] == [200.0, 200.0, 200.0]  # org B is on UTC: two 100-step readings a day


# --- out of reference, a page at a time ------------------------------------------------------------------------


OUT_OF_REFERENCE = "/api/v1/biomarkers/out-of-reference/"


def test_out_of_reference_readings_come_in_cursor_pages_without_a_cap(clinic):
    # Every step count above is under 5,000 but two; org B's 100-step days are low too and never appear here.
    query = {**PERIOD, "limit": 2}
    pages, cursor = [], None
    while True:
        answer = clinic["partner"].get(OUT_OF_REFERENCE, {**query, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200
        body = answer.json()
        pages.append([r["source_reading_id"] for r in body["results"]])
        cursor = body["next_cursor"]
        assert (body["next"] is None) == (cursor is None)
        if cursor is None:
            break
        assert parse_qs(urlsplit(body["next"]).query)["cursor"] == [cursor]

    assert pages == [["fb-0", "fb-1"], ["fb-2", "fb-3"]]
    with as_tenant(clinic["org"]):
        patients = set(BiomarkerLog.objects.values_list("patient_id", flat=True))
    assert patients == {clinic["patient"].pk}


def test_out_of_reference_pages_past_five_hundred(clinic):
    rows = [
        reading(clinic["patient"].pk, source="garmin", source_reading_id=f"g-{i}", value_numeric=float(i))
        for i in range(1200)
    ]
    assert post(clinic["partner"], {"readings": rows}).status_code == 201
    seen, cursor = [], None
    while True:
        body = clinic["partner"].get(OUT_OF_REFERENCE, {"limit": 500, **({"cursor": cursor} if cursor else {})}).json()
        seen += [r["source_reading_id"] for r in body["results"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 1200
    assert set(seen) == {f"g-{i}" for i in range(1200)}


@pytest.mark.parametrize("cursor", ["nonsense", "bm90IGEgY3Vyc29y", "x" * 201])
def test_a_malformed_cursor_is_a_400_naming_cursor(clinic, cursor):
    response = clinic["partner"].get(OUT_OF_REFERENCE, {**PERIOD, "cursor": cursor})

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["cursor"]


def test_out_of_reference_reads_its_deprecated_start_and_end_and_refuses_what_it_does_not_document(clinic):
    current = clinic["partner"].get(OUT_OF_REFERENCE, PERIOD)
    deprecated = clinic["partner"].get(
        OUT_OF_REFERENCE, {"start": PERIOD["captured_since"], "end": PERIOD["captured_before"]}
    )
    both = clinic["partner"].get(OUT_OF_REFERENCE, {**PERIOD, "start": PERIOD["captured_since"]})
    unknown = clinic["partner"].get(OUT_OF_REFERENCE, {**PERIOD, "tz": "UTC", "offset": 2})

    assert [r["source_reading_id"] for r in current.json()["results"]] == ["fb-0", "fb-1", "fb-2", "fb-3"]
    assert deprecated.json() == current.json()
    assert both.status_code == 400
    assert both.json()["error"]["fields"] == {
        "start": ["Deprecated alias of `captured_since`: give one of them, not both."]
    }
    assert unknown.status_code == 400
    assert set(unknown.json()["error"]["fields"]) == {"tz", "offset"}


def test_the_series_documents_tz_and_the_deprecated_start_and_end(clinic):
    accepted = documented_query_parameters()[("/api/v1/biomarkers/patients/{patient_id}/series/", "GET")]
    url = f"/api/v1/biomarkers/patients/{clinic['patient'].pk}/series/"
    query = {"metric_type": "steps", "bucket": "day", "tz": "UTC"}
    deprecated = clinic["partner"].get(
        url, {**query, "start": PERIOD["captured_since"], "end": PERIOD["captured_before"]}
    )

    assert {"tz", "captured_since", "captured_before", "start", "end"} <= accepted
    assert deprecated.status_code == 200
    assert deprecated.json()["buckets"] == clinic["partner"].get(url, {**query, **PERIOD}).json()["buckets"]
