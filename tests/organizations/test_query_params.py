"""Query parameters: one naming convention, deprecated aliases, and unknown parameters refused by name."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from apps.organizations.query_params import ALIASES, UNKNOWN_MESSAGE
from apps.organizations.roles import Role
from apps.patients.models import Patient
from tests.conftest import add_member, api_client, as_tenant, issue_key, logged_in
from tests.factories import ClinicalEventFactory, PatientFactory

EVENT_AT = dt.datetime(2024, 3, 1, 9, tzinfo=dt.UTC)


@pytest.fixture
def schema(db: None) -> dict[str, Any]:
    return Client().get("/api/v1/schema/?format=json").json()


def list_operations(schema: dict[str, Any]) -> list[str]:
    """Paths of the GET operations that take no path parameter."""
    return [path for path, operations in schema["paths"].items() if "get" in operations and "{" not in path]


def test_every_operation_without_path_parameters_refuses_an_unknown_parameter_by_name(org_a, schema):
    client = api_client(issue_key(org_a, phi_access=True))
    paths = list_operations(schema)
    assert "/api/v1/patients/" in paths
    assert len(paths) >= 15
    for path in paths:
        response = client.get(path, {"created_after": "2024-01-01", "ordering": "-id"})
        assert response.status_code == 400, path
        error = response.json()["error"]
        assert error["code"] == "invalid"
        assert set(error["fields"]) == {"created_after", "ordering"}, path
        assert "2024-01-01" not in error["message"]


def test_the_refusal_lists_what_the_operation_accepts_and_stores_nothing(org_a):
    client = api_client(issue_key(org_a, phi_access=True))
    with as_tenant(org_a):
        before = Patient.objects.count()
    response = client.post(
        "/api/v1/patients/?dry_run=1",
        {"given_name": "Ada", "family_name": "Byron", "date_of_birth": "1990-01-01"},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"dry_run": ["Unknown query parameter; this operation takes none."]}
    listed = client.get("/api/v1/patients/", {"sort": "name"}).json()["error"]["fields"]["sort"]
    accepted = "cursor, date_of_birth, limit, offset, search, sex_at_birth, status, updated_since"
    assert listed == [UNKNOWN_MESSAGE.format(accepted=accepted)]
    with as_tenant(org_a):
        assert Patient.objects.count() == before


def test_a_caller_that_is_not_identified_gets_401_before_any_parameter_check(db):
    response = Client().get("/api/v1/patients/", {"ordering": "x"})
    assert response.status_code in (401, 403)
    assert "ordering" not in response.json()["error"].get("fields", {})


@pytest.mark.parametrize(
    ("path", "old", "new"),
    [
        ("/api/v1/clinical-events/", "date_from", "event_date_since"),
        ("/api/v1/clinical-events/", "date_to", "event_date_before"),
        ("/api/v1/encounters/", "started_after", "started_since"),
        ("/api/v1/appointments/", "starts_from", "starts_since"),
    ],
)
def test_a_deprecated_name_answers_as_its_new_name_and_both_together_are_refused(org_a, org_b, path, old, new):
    with as_tenant(org_a):
        event = ClinicalEventFactory(patient=PatientFactory(), event_date=EVENT_AT)
    with as_tenant(org_b):
        ClinicalEventFactory(patient=PatientFactory(), event_date=EVENT_AT)
    client = api_client(issue_key(org_a, phi_access=True))

    value = "2024-03-01T09:00:00Z"
    by_alias, by_name = client.get(path, {old: value}), client.get(path, {new: value})
    assert by_alias.status_code == by_name.status_code == 200
    assert by_alias.json()["results"] == by_name.json()["results"]
    if path == "/api/v1/clinical-events/":
        expected = [str(event.pk)] if new == "event_date_since" else []
        assert [row["id"] for row in by_name.json()["results"]] == expected
    both = client.get(path, {old: value, new: value})
    assert both.status_code == 400
    assert both.json()["error"]["fields"] == {old: [f"Deprecated alias of `{new}`: give one of them, not both."]}


def test_the_schema_documents_each_alias_as_deprecated_beside_its_new_name(schema):
    documented: dict[str, set[str]] = {}
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            parameters = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}
            for name, parameter in parameters.items():
                if name in ALIASES:
                    new = ALIASES[name].new
                    assert parameter["deprecated"] is True, (path, name)
                    assert parameter["description"] == f"Deprecated alias of `{new}`."
                    assert new in parameters, (path, name)
                    assert not parameters[new].get("deprecated"), (path, name)
                    documented.setdefault(name, set()).add(path)
    assert set(documented) == set(ALIASES)
    assert documented["after"] == {"/api/v1/events/"}
    assert documented["since"] == {"/api/v1/patients/{patient_id}/health-events/"}


# GET operations that are not pages of a list of rows, or page their own way, and why.
NOT_LIST_PAGES = {
    "/api/v1/me/": "who the caller is",
    "/api/v1/events/": "the change feed itself: its cursor is the position in commit order",
    "/api/v1/patients/{patient_id}/health-events/": "newest-first timeline with its own cursor (and updated_since)",
    "/api/v1/biomarkers/patients/{patient_id}/series/": "a time series with its own time cursor",
    "/api/v1/patients/{patient_id}/health-events/summary/": "a per-day summary",
    "/api/v1/patients/{patient_id}/medication-adherence/": "a report",
    "/api/v1/biomarkers/metrics/": "the fixed metric catalog",
    "/api/v1/biomarkers/patients/{patient_id}/latest/": "one reading per metric",
    "/api/v1/biomarkers/out-of-reference/": "keyset page of its own, like the timeline's (one SQL statement)",
    "/api/v1/biomarkers/readings/{reading_id}/history/": "one reading and its versions",
    "/api/v1/free-slots/": "computed from availability",
    "/api/v1/assessments/instruments/": "the built-in and custom instruments",
    "/api/v1/billing/aging/": "a report",
    "/api/v1/billing/totals/": "a report",
    "/api/v1/billing/patients/{patient_id}/balance/": "a report",
    "/api/v1/billing/provider/": "one object",
}


def test_every_list_is_paged_with_a_cursor_and_takes_updated_since(schema):
    pages, others = set(), set()
    for path, operations in schema["paths"].items():
        operation = operations.get("get")
        if operation is None or path.endswith("}/"):
            continue
        ref = operation["responses"]["200"]["content"]["application/json"]["schema"].get("$ref", "")
        envelope = schema["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
        if {"count", "next_cursor", "results"} <= set(envelope.get("properties", {})):
            pages.add(path)
            names = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
            assert {"cursor", "limit", "updated_since"} <= names, path
            assert "`updated_since`" in operation["description"], path
        else:
            others.add(path)
    assert others == set(NOT_LIST_PAGES)
    assert len(pages) >= 17
    timeline = schema["paths"]["/api/v1/patients/{patient_id}/health-events/"]["get"]
    assert {"cursor", "limit", "updated_since"} <= {p["name"] for p in timeline["parameters"]}


def test_the_timeline_reads_its_old_parameter_names(org_a):
    user = add_member(org_a, Role.CLINICIAN)
    with as_tenant(org_a):
        patient = PatientFactory()
    client = logged_in(user)
    url = f"/api/v1/patients/{patient.pk}/health-events/"

    assert client.get(url, {"page_size": 2, "since": "2024-01-01T00:00:00Z"}).status_code == 200
    refused = client.get(url, {"occurred_since": "2024-02-01T00:00:00Z", "occurred_before": "2024-01-01T00:00:00Z"})
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {"occurred_before": ["Must be after occurred_since."]}
