"""One log line per request: JSON with the request id, organization, actor, route, method, status and duration;
4xx at INFO without a traceback, a 500 at ERROR with one; the request id in the `X-Request-ID` header, in error
bodies and on every record logged during the request; never a path's ids, a query string, a body or a patient
value.
"""

from __future__ import annotations

import io
import json
import logging
import random
import re
import string
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, override_settings

from apps.organizations import selectors
from apps.organizations.roles import Role
from config.log_format import PlainFormatter
from tests.config.failing_urls import FAILING_PATH
from tests.conftest import add_member, api_client, as_tenant, issue_key, logged_in
from tests.factories import PatientFactory

# Letters only, so it is a valid name; random, so no other test's output can contain it by chance.
CANARY = "Qz" + "".join(random.choices(string.ascii_lowercase, k=12)).capitalize()
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


class Logs:
    """What the configured `console` handler (the root's) wrote, one JSON object a line."""

    def __init__(self, output: io.StringIO) -> None:
        self.output = output

    @property
    def text(self) -> str:
        return self.output.getvalue()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines()]

    def request_lines(self) -> list[dict[str, Any]]:
        return [record for record in self.records() if record["logger"] == "kura.request"]


@pytest.fixture
def logs() -> Iterator[Logs]:
    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    assert isinstance(handler, logging.StreamHandler)
    output = io.StringIO()
    previous = handler.setStream(output)
    yield Logs(output)
    handler.setStream(previous)


def without_timing(line: dict[str, Any]) -> dict[str, Any]:
    """The line without the fields that vary from run to run (checked for their type)."""
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])
    return {name: value for name, value in line.items() if name not in ("time", "duration_ms")}


def key_id(raw_key: str) -> uuid.UUID:
    return selectors.api_key_authenticate(raw_key=raw_key).id


def test_a_request_is_one_json_line_with_its_fields(org_a, org_b, logs: Logs) -> None:
    raw_key = issue_key(org_a, phi_access=True)

    response = api_client(raw_key).get("/api/v1/patients/", {"search": CANARY})

    assert response.status_code == 200
    request_id = response["X-Request-ID"]
    assert GENERATED_ID.fullmatch(request_id)
    assert len(logs.text.splitlines()) == 1
    assert [without_timing(line) for line in logs.request_lines()] == [
        {
            "level": "INFO",
            "logger": "kura.request",
            "message": logs.request_lines()[0]["message"],
            "request_id": request_id,
            "method": "GET",
            "route": "patient-list",
            "status": 200,
            "organization_id": str(org_a.id),
            "actor": f"key:{key_id(raw_key)}",
        }
    ]
    assert logs.request_lines()[0]["message"].startswith("GET patient-list 200 ")
    assert CANARY not in logs.text


def test_a_4xx_is_one_info_line_without_a_traceback_or_the_path(org_a, org_b, logs: Logs) -> None:
    owner = add_member(org_a, Role.OWNER)
    with as_tenant(org_b):
        other_clinics_patient = PatientFactory()
    client = logged_in(owner)
    logs.output.truncate(0)
    logs.output.seek(0)

    response = client.get(f"/api/v1/patients/{other_clinics_patient.pk}/")

    assert response.status_code == 404
    assert response.json() == {
        "error": {"status": 404, "code": "not_found", "message": "Not found.", "request_id": response["X-Request-ID"]}
    }
    # One line: Django's own "Not Found: /api/v1/patients/<id>/" WARNING is not logged as well.
    assert [without_timing(line) for line in logs.records()] == [
        {
            "level": "INFO",
            "logger": "kura.request",
            "message": logs.records()[0]["message"],
            "request_id": response["X-Request-ID"],
            "method": "GET",
            "route": "patient-detail",
            "status": 404,
            "organization_id": str(org_a.id),
            "actor": f"user:{owner.pk}",
        }
    ]
    assert str(other_clinics_patient.pk) not in logs.text


def test_a_rejected_body_is_an_info_line_naming_no_value(org_a, logs: Logs) -> None:
    raw_key = issue_key(org_a, phi_access=True)
    patient = {"mrn": "M-1", "given_name": CANARY, "family_name": CANARY, "date_of_birth": CANARY}

    response = api_client(raw_key).post("/api/v1/patients/", patient, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["request_id"] == response["X-Request-ID"]
    assert [(line["level"], line["status"], line["route"]) for line in logs.records()] == [
        ("INFO", 400, "patient-list")
    ]
    assert "exception" not in logs.records()[0]
    assert CANARY not in logs.text


def test_every_record_logged_during_a_request_carries_its_id(db, logs: Logs) -> None:
    # An unknown Host header: Django's security logger reports it while the request is served.
    response = Client(HTTP_HOST="unknown.example").get("/api/v1/patients/")

    assert response.status_code == 400
    request_id = response["X-Request-ID"]
    assert response.json()["error"]["request_id"] == request_id
    records = logs.records()
    assert [(record["logger"], record["request_id"]) for record in records] == [
        ("django.security.DisallowedHost", request_id),
        ("kura.request", request_id),
    ]
    assert records[1]["organization_id"] is None
    assert records[1]["actor"] is None


def test_a_record_outside_a_request_has_no_request_id(logs: Logs) -> None:
    logging.getLogger("kura.jobs").warning("nothing to do")

    assert [(record["logger"], record["request_id"]) for record in logs.records()] == [("kura.jobs", None)]


@override_settings(KURA_TRUST_REQUEST_ID=True)
@pytest.mark.parametrize("presented", [str(uuid.uuid4()), uuid.uuid4().hex, "0123456789abcdef"])
def test_a_trusted_well_formed_request_id_is_kept(db, logs: Logs, presented: str) -> None:
    response = Client().get("/api/v1/patients/", HTTP_X_REQUEST_ID=presented)

    assert response["X-Request-ID"] == presented
    assert response.json()["error"]["request_id"] == presented
    assert [line["request_id"] for line in logs.request_lines()] == [presented]


@override_settings(KURA_TRUST_REQUEST_ID=True)
@pytest.mark.parametrize(
    "presented",
    [
        "a" * 65,  # too long
        "0123456789abcdef\n0123456789abcdef",  # a control character: a forged second log line
        "0123456789abcdef\x00",
        "0123-4567",  # too short
        f"{CANARY}-0123456789abcdef",  # not hex: could carry any text
        "",
    ],
)
def test_a_malformed_request_id_is_replaced(db, logs: Logs, presented: str) -> None:
    response = Client().get("/api/v1/patients/", HTTP_X_REQUEST_ID=presented)

    request_id = response["X-Request-ID"]
    assert GENERATED_ID.fullmatch(request_id)
    assert [line["request_id"] for line in logs.request_lines()] == [request_id]
    assert CANARY not in logs.text


def test_a_request_id_from_the_client_is_not_trusted_by_default(db, logs: Logs) -> None:
    presented = str(uuid.uuid4())

    response = Client().get("/api/v1/patients/", HTTP_X_REQUEST_ID=presented)

    assert response["X-Request-ID"] != presented
    assert GENERATED_ID.fullmatch(response["X-Request-ID"])
    assert presented not in logs.text


@pytest.mark.urls("tests.config.failing_urls")
def test_a_500_is_one_error_line_with_the_traceback_and_no_message(org_a, logs: Logs) -> None:
    raw_key = issue_key(org_a)
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Api-Key {raw_key}")

    response = client.get(FAILING_PATH, HTTP_X_TEST_VALUE=CANARY)

    assert response.status_code == 500
    request_id = response["X-Request-ID"]
    assert response.json() == {
        "error": {
            "status": 500,
            "code": "server_error",
            "message": "Internal server error.",
            "request_id": request_id,
        }
    }
    records = logs.records()
    assert len(records) == 1  # Django's own "Internal Server Error: /path" line is not logged as well
    line = records[0]
    exception = line.pop("exception")
    assert without_timing(line) == {
        "level": "ERROR",
        "logger": "kura.request",
        "message": line["message"],
        "request_id": request_id,
        "method": "GET",
        "route": "test-only-failure",
        "status": 500,
        "organization_id": str(org_a.id),
        "actor": f"key:{key_id(raw_key)}",
    }
    assert exception.startswith("Traceback (most recent call last):\n")
    assert "return HttpResponse(int(given_name))" in exception
    assert exception.endswith("builtins.ValueError (message withheld)")
    assert len(logs.text.splitlines()) == 1
    assert CANARY not in logs.text


def test_no_patient_value_reaches_the_request_lines(org_a, logs: Logs) -> None:
    raw_key = issue_key(org_a, phi_access=True)
    client = api_client(raw_key)
    patient = {"mrn": "CANARY-1", "given_name": CANARY, "family_name": CANARY, "date_of_birth": "1980-02-03"}

    codes = [
        client.post("/api/v1/patients/", patient, content_type="application/json").status_code,
        client.post("/api/v1/patients/", patient, content_type="application/json").status_code,  # same MRN
        client.get("/api/v1/patients/", {"search": CANARY}).status_code,
        client.get("/api/v1/patients/", {"status": CANARY}).status_code,
        client.get(f"/invitations/{CANARY}/").status_code,  # a path holding a secret token
        client.generic(CANARY.upper(), "/api/v1/patients/").status_code,  # any token is a method
    ]

    assert codes == [201, 400, 200, 400, 404, 405]
    assert [(line["method"], line["route"], line["status"]) for line in logs.request_lines()] == [
        ("POST", "patient-list", 201),
        ("POST", "patient-list", 400),
        ("GET", "patient-list", 200),
        ("GET", "patient-list", 400),
        ("GET", "invitation", 404),
        ("OTHER", "patient-list", 405),
    ]
    assert CANARY not in logs.text
    assert CANARY.lower() not in logs.text.lower()


def test_the_plain_format_is_one_line_with_the_request_id() -> None:
    record = logging.LogRecord("kura.request", logging.INFO, __file__, 1, "GET %s 200 1.5ms", ("patient-list",), None)
    record.request_id = "0123456789abcdef"
    record.organization_id = "5d1f0c52-0000-4000-8000-000000000000"
    record.actor = "user:7"

    assert PlainFormatter().format(record).split(" ", 2)[2] == (
        "INFO kura.request [0123456789abcdef] GET patient-list 200 1.5ms "
        "organization_id=5d1f0c52-0000-4000-8000-000000000000 actor=user:7"
    )
