"""Regression tests for what the API fuzzer found, and for the schema it relies on (in-process, real commits)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from apps.clinical.models import ClinicalEvent, Encounter
from apps.organizations import services
from apps.organizations.pagination import MAX_PAGE_SIZE, ListPagination
from apps.organizations.roles import DataClassification, Role
from tests.conftest import add_member, api_client, as_tenant, issue_key, logged_in, make_organization
from tests.factories import ClinicalEventFactory, PatientFactory

pytestmark = pytest.mark.usefixtures("committed")
EVENT_AT = dt.datetime(2020, 1, 2, tzinfo=dt.UTC)


@pytest.fixture
def clinics() -> dict[str, Any]:
    data = {}
    for name in ("a", "b"):
        org = make_organization(f"org-{name}")
        with as_tenant(org):
            patient = PatientFactory(email="")
            event = ClinicalEventFactory(patient=patient, event_date=EVENT_AT)
        data[name] = {"org": org, "patient": patient, "event": event}
    return data


def counts(org: Any) -> tuple[int, int]:
    with as_tenant(org):
        return Encounter.objects.count(), ClinicalEvent.objects.count()


@pytest.fixture
def schema() -> dict[str, Any]:
    return Client().get("/api/v1/schema/?format=json").json()


# --- Finding: a datetime filter with a UTC offset PostgreSQL cannot store was a 500 ----------------------------


@pytest.mark.parametrize(
    ("date_from", "found"),
    [
        ("2020-01-01T02:00:00-22:00", True),  # = 2020-01-02T00:00Z, the event's time: included (gte)
        ("2020-01-01T02:00:01-22:00", False),  # one second later: excluded
        ("2020-01-02T23:59:00+23:59", True),  # = 2020-01-02T00:00Z
    ],
)
def test_datetime_filters_accept_any_offset_python_accepts_and_compare_in_utc(clinics, date_from, found):
    client = api_client(issue_key(clinics["a"]["org"], phi_access=True))
    response = client.get("/api/v1/clinical-events/", {"date_from": date_from})

    assert response.status_code == 200
    ids = [row["id"] for row in response.json()["results"]]
    assert ids == ([str(clinics["a"]["event"].pk)] if found else [])


@pytest.mark.parametrize(
    ("path", "parameter"),
    [("/api/v1/clinical-events/", "date_to"), ("/api/v1/encounters/", "started_before")],
)
def test_a_datetime_filter_outside_the_representable_range_in_utc_is_a_400_naming_it(clinics, path, parameter):
    client = api_client(issue_key(clinics["a"]["org"], phi_access=True))
    response = client.get(path, {parameter: "0001-01-01T00:00:00+05:00"})

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {parameter: ["Date and time out of range."]}


# --- Finding: a PHI write by a principal without PHI access was a 500 (the RLS policy refused the row) --------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/api/v1/encounters/",
            {"encounter_type": "outpatient", "started_at": "2024-03-01T10:00:00Z"},
        ),
        (
            "/api/v1/clinical-events/",
            {
                "event": {
                    "activity_type": "observation",
                    "clinical_purposes": ["screening"],
                    "event_name": "Check",
                    "event_date": "2024-03-01T10:00:00Z",
                }
            },
        ),
    ],
)
def test_a_key_without_phi_access_gets_403_for_phi_and_may_record_wellness_data(clinics, path, body):
    org = clinics["a"]["org"]
    client = api_client(issue_key(org, phi_access=False))
    patient_id = str(clinics["a"]["patient"].pk)
    before = {name: counts(clinics[name]["org"]) for name in "ab"}

    def post(classification: str, patient: str = patient_id) -> Any:
        if "event" in body:
            data = {**body, "patient_id": patient, "event": {**body["event"], "data_classification": classification}}
        else:
            data = {**body, "patient_id": patient, "data_classification": classification}
        return client.post(path, data, content_type="application/json")

    refused = post(DataClassification.CLINICAL_PHI)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert {name: counts(clinics[name]["org"]) for name in "ab"} == before

    other_org = post(DataClassification.GENERAL_WELLNESS, patient=str(clinics["b"]["patient"].pk))
    assert other_org.status_code == 404
    assert {name: counts(clinics[name]["org"]) for name in "ab"} == before

    assert post(DataClassification.GENERAL_WELLNESS).status_code == 201
    created = (1, 0) if path == "/api/v1/encounters/" else (0, 1)
    assert counts(org) == (before["a"][0] + created[0], before["a"][1] + created[1])
    assert counts(clinics["b"]["org"]) == before["b"]


# --- Finding: a huge `limit` overflowed PostgreSQL's LIMIT (a 500) -------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/patients/",
        "/api/v1/patients/{patient}/consents/",
        "/api/v1/encounters/",
        "/api/v1/clinical-events/",
        "/api/v1/billing/entries/",
    ],
)
def test_a_huge_limit_gives_the_largest_page_of_the_callers_rows(clinics, path):
    client = api_client(issue_key(clinics["a"]["org"], phi_access=True))
    url = path.format(patient=clinics["a"]["patient"].pk)
    response = client.get(url, {"limit": "13865685799175996657631232", "offset": "99999999999999999999999"})
    first = client.get(url, {"limit": "13865685799175996657631232"})

    assert response.status_code == 200
    assert response.json()["results"] == []
    assert first.status_code == 200
    if path == "/api/v1/patients/":
        assert [row["id"] for row in first.json()["results"]] == [str(clinics["a"]["patient"].pk)]


def test_the_page_size_is_capped_at_the_largest_page(db):
    request = Request(APIRequestFactory().get("/", {"limit": "13865685799175996657631232"}))
    paginator = ListPagination()
    paginator.paginate_queryset(Encounter.objects.none(), request)
    assert paginator.limit == MAX_PAGE_SIZE == 500


# --- Findings: schema mismatches ------------------------------------------------------------------------------


def test_a_blank_email_is_listed_and_the_schema_does_not_call_it_an_email_format(clinics, schema):
    client = logged_in(add_member(clinics["a"]["org"], Role.CLINICIAN))
    rows = client.get("/api/v1/patients/").json()["results"]

    assert [(row["id"], row["email"]) for row in rows] == [(str(clinics["a"]["patient"].pk), "")]
    assert schema["components"]["schemas"]["PatientOutput"]["properties"]["email"] == {
        "type": "string",
        "description": "Email address; empty when not known.",
    }


def test_switching_organization_answers_the_documented_membership_shape(clinics, schema):
    user = add_member(clinics["a"]["org"], Role.CLINICIAN)
    with as_tenant(clinics["b"]["org"]):
        services.membership_create(user=user, role=Role.COACH)
    client = logged_in(user)

    response = client.post("/api/v1/me/organization/", {"organization": "org-b"}, content_type="application/json")
    missing = client.post("/api/v1/me/organization/", {"organization": "org-zz"}, content_type="application/json")

    assert response.status_code == 200
    assert response.json()["role"] == "coach"
    assert response.json()["organization"]["slug"] == "org-b"
    operation = schema["paths"]["/api/v1/me/organization/"]["post"]["responses"]
    documented = operation["200"]["content"]["application/json"]["schema"]["$ref"]
    assert documented == "#/components/schemas/MembershipSummary"
    assert set(response.json()) == set(schema["components"]["schemas"]["MembershipSummary"]["properties"])
    assert missing.status_code == 404
    assert operation["404"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Error"


def test_paginated_lists_are_documented_with_their_envelope_and_pagination_parameters(clinics, schema):
    client = logged_in(add_member(clinics["a"]["org"], Role.CLINICIAN))
    body = client.get("/api/v1/patients/", {"limit": 1}).json()
    operation = schema["paths"]["/api/v1/patients/"]["get"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    envelope = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]

    assert set(body) == {"count", "next", "previous", "next_cursor", "results"}
    assert set(envelope["properties"]) == {"count", "next", "previous", "next_cursor", "results"}
    assert {"cursor", "limit", "updated_since", "offset"} <= {p["name"] for p in operation["parameters"]}


def test_envelopes_that_are_not_paginated_are_documented_as_returned(clinics, schema):
    client = api_client(issue_key(clinics["a"]["org"], phi_access=True))
    patient = clinics["a"]["patient"].pk
    for path, documented_path in [
        (f"/api/v1/patients/{patient}/health-events/", "/api/v1/patients/{patient_id}/health-events/"),
        ("/api/v1/assessment-flags/", "/api/v1/assessment-flags/"),
        ("/api/v1/assessments/instruments/", "/api/v1/assessments/instruments/"),
    ]:
        body = client.get(path).json()
        responses = schema["paths"][documented_path]["get"]["responses"]
        ref = responses["200"]["content"]["application/json"]["schema"]["$ref"]
        assert set(body) == set(schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]), path


def test_every_operation_documents_its_errors_in_the_one_error_shape(schema):
    error = schema["components"]["schemas"]["ErrorDetail"]
    assert set(error["properties"]) == {"status", "code", "message", "fields", "request_id"}
    assert set(error["required"]) == {"status", "code", "message", "request_id"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"401", "403", "429"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            if "requestBody" in operation:
                assert {"400", "415"} <= codes, (method, path)
            for code in codes - {"200", "201", "204"}:
                content = operation["responses"][code]["content"]["application/json"]["schema"]
                assert content == {"$ref": "#/components/schemas/Error"}, (method, path, code)
    charges = schema["paths"]["/api/v1/billing/charges/"]["post"]["responses"]
    assert {"409", "422"} <= set(charges)
    assert "413" in schema["paths"]["/api/v1/biomarkers/readings/"]["post"]["responses"]
