"""What the OpenAPI schema promises a generated client, and the server keeps: JSON bodies only, typed inputs,
a description per operation, documented response headers, `Location` on a 201."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from apps.billing.models import TransactionType
from apps.biomarkers.adapters import ADAPTERS
from apps.biomarkers.record_formats import RECORD_FORMATS
from apps.clinical.timeline.openapi import POSTABLE_TYPES
from apps.patients.models import Patient
from tests.conftest import api_client, as_tenant, issue_key

PATIENT = {"given_name": "Ada", "family_name": "Byron", "date_of_birth": "1990-01-01"}


@pytest.fixture
def schema(db: None) -> dict[str, Any]:
    return Client().get("/api/v1/schema/?format=json").json()


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()]


def component(schema: dict[str, Any], ref: str) -> dict[str, Any]:
    found: dict[str, Any] = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return found


def test_every_body_is_json_only_and_every_operation_is_described(schema):
    bodies = 0
    for path, method, operation in operations(schema):
        assert operation["description"].strip(), (method, path)
        if "requestBody" in operation:
            bodies += 1
            assert list(operation["requestBody"]["content"]) == ["application/json"], (method, path)
    assert bodies >= 30


@pytest.mark.parametrize("kind", ["urlencoded", "multipart"])
def test_a_form_body_is_a_415_and_stores_nothing(org_a, kind):
    client = api_client(issue_key(org_a))
    if kind == "multipart":
        response = client.post("/api/v1/patients/", PATIENT)  # the test client's default: multipart/form-data
    else:
        response = client.post(
            "/api/v1/patients/", urlencode(PATIENT), content_type="application/x-www-form-urlencoded"
        )

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    with as_tenant(org_a):
        assert Patient.objects.count() == 0


def test_inputs_the_server_checks_key_by_key_are_typed(schema):
    schemas = schema["components"]["schemas"]
    readings = schemas["ReadingBatchInputRequest"]["properties"]["readings"]
    assert readings["items"] == {"$ref": "#/components/schemas/ReadingInputRequest"}
    assert set(schemas["ReadingInputRequest"]["required"]) == {
        "patient_id",
        "source",
        "source_reading_id",
        "metric_type",
        "unit",
        "captured_at",
    }
    payment = schemas["PaymentInputRequest"]["properties"]
    assert payment["allocations"]["items"] == {"$ref": "#/components/schemas/PaymentAllocationInputRequest"}
    assert payment["metadata"] == {"$ref": "#/components/schemas/CreditMetadataRequest"}
    assert set(schemas["CreditMetadataRequest"]["properties"]) == {"method", "reason_code", "note"}

    charge = schema["paths"]["/api/v1/billing/charges/"]["post"]["requestBody"]["content"]["application/json"]
    body = component(schema, charge["schema"]["$ref"])
    assert body["discriminator"]["propertyName"] == "transaction_type"
    assert set(body["discriminator"]["mapping"]) == set(TransactionType.values)
    clinical = component(schema, body["discriminator"]["mapping"]["clinical_service"])
    metadata = clinical["properties"]["metadata"]["allOf"][0]["$ref"]
    assert component(schema, metadata)["required"] == ["cpt_code", "diagnosis_codes"]

    imports = schema["paths"]["/api/v1/biomarkers/imports/"]["post"]["requestBody"]["content"]["application/json"]
    variants = component(schema, imports["schema"]["$ref"])["discriminator"]["mapping"]
    assert set(variants) == set(ADAPTERS) == set(RECORD_FORMATS)

    events = schema["paths"]["/api/v1/patients/{patient_id}/health-events/"]["post"]["requestBody"]
    mapping = component(schema, events["content"]["application/json"]["schema"]["$ref"])["discriminator"]["mapping"]
    assert set(mapping) == set(POSTABLE_TYPES)
    mood = component(schema, component(schema, mapping["mood"])["properties"]["event_data"]["$ref"])
    assert set(mood["required"]) == {"mood", "confidence"}


def test_response_headers_are_documented(schema):
    created = schema["paths"]["/api/v1/patients/"]["post"]["responses"]
    assert {"Location", "Idempotent-Replayed", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(
        created["201"]["headers"]
    )
    assert "Retry-After" in created["429"]["headers"]
    charge = schema["paths"]["/api/v1/billing/charges/"]["post"]["responses"]["201"]["headers"]
    assert "Location" not in charge  # a ledger entry is read at /billing/entries/<id>/, not under /charges/
    listed = schema["paths"]["/api/v1/patients/"]["get"]["responses"]["200"]["headers"]
    assert "Idempotent-Replayed" not in listed


def test_a_201_names_the_created_objects_url_and_its_replay_says_so(org_a):
    client = api_client(issue_key(org_a))
    created = client.post("/api/v1/patients/", PATIENT, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1")
    again = client.post("/api/v1/patients/", PATIENT, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1")

    assert created.status_code == again.status_code == 201
    assert created["Location"] == f"http://testserver/api/v1/patients/{created.json()['id']}/"
    assert again["Location"] == created["Location"]
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in created
