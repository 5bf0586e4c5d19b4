"""Every endpoint answers 413 for a body over its limit and 411 for a chunked body, through gunicorn (Django's
test client cannot send a chunked body), and stores nothing: the error shape in the API, plain text on pages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings

from apps.patients.models import Patient
from tests.conftest import as_key, issue_key, make_organization
from tests.edge import Answer, chunked, raw_request
from tests.factories import PatientFactory
from tests.live import LiveServer

PATIENT = json.dumps(
    {"mrn": "MRN-411", "given_name": "Ada", "family_name": "Lovelace", "date_of_birth": "1980-02-03"}
).encode()
LENGTH_REQUIRED = "Send the request body with a Content-Length header; chunked transfer encoding is not accepted."


@pytest.fixture
def partners(committed: None) -> dict[str, Any]:
    """Two clinics with a patient each, and a partner key of each."""
    clinics: dict[str, Any] = {}
    for slug in ("org-a", "org-b"):
        org = make_organization(slug)
        key = issue_key(org, phi_access=True)
        with as_key(org, key):
            PatientFactory()
        clinics[slug] = {"org": org, "key": key}
    return clinics


def patient_counts(partners: dict[str, Any]) -> dict[str, int]:
    counts = {}
    for slug, clinic in partners.items():
        with as_key(clinic["org"], clinic["key"]):
            counts[slug] = Patient.objects.count()
    return counts


def api_error(answer: Answer) -> dict[str, Any]:
    assert answer.headers["content-type"] == "application/json"
    error = dict(json.loads(answer.body)["error"])
    assert error.pop("request_id") == answer.headers["x-request-id"]
    return error


def post_head(path: str, key: str | None, *headers: str) -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: localhost", "Content-Type: application/json", *headers]
    if key is not None:
        lines.append(f"Authorization: Api-Key {key}")
    return "\r\n".join(lines)


def test_a_chunked_body_to_the_api_is_a_411_and_stores_nothing(gunicorn_server: LiveServer, partners):
    key = partners["org-a"]["key"]
    answer = raw_request(
        gunicorn_server.url,
        post_head("/api/v1/patients/", key, "Transfer-Encoding: chunked"),
        chunked(PATIENT),
    )
    assert answer.status == 411
    assert api_error(answer) == {"status": 411, "code": "length_required", "message": LENGTH_REQUIRED}
    assert patient_counts(partners) == {"org-a": 1, "org-b": 1}
    # The same body with its length is read and stored, in the key's clinic only.
    stored = raw_request(
        gunicorn_server.url, post_head("/api/v1/patients/", key, f"Content-Length: {len(PATIENT)}"), PATIENT
    )
    assert stored.status == 201
    assert patient_counts(partners) == {"org-a": 2, "org-b": 1}


def test_a_chunked_body_to_a_page_is_a_plain_411(gunicorn_server: LiveServer, partners):
    form = b"username=someone&password=secret"
    head = "\r\n".join(
        [
            "POST /admin/login/ HTTP/1.1",
            "Host: localhost",
            "Content-Type: application/x-www-form-urlencoded",
            "Transfer-Encoding: chunked",
        ]
    )
    answer = raw_request(gunicorn_server.url, head, chunked(form))
    assert answer.status == 411
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert answer.body.decode() == LENGTH_REQUIRED + "\n"


def test_a_body_over_the_limit_is_a_413_on_every_path_before_it_is_read(gunicorn_server: LiveServer, partners):
    over = settings.KURA_MAX_BODY_BYTES + 1
    key = partners["org-a"]["key"]
    # Only the headers are sent: the answer comes without the body being waited for.
    api = raw_request(gunicorn_server.url, post_head("/api/v1/patients/", key, f"Content-Length: {over}"))
    assert api.status == 413
    assert api_error(api) == {"status": 413, "code": "too_large", "message": "The request body is too large."}
    unknown = raw_request(gunicorn_server.url, post_head("/api/v1/no-such-endpoint/", key, f"Content-Length: {over}"))
    assert unknown.status == 413
    assert api_error(unknown)["code"] == "too_large"
    page_head = "\r\n".join(
        [
            "POST /admin/login/ HTTP/1.1",
            "Host: localhost",
            "Content-Type: application/x-www-form-urlencoded",
            f"Content-Length: {over}",
        ]
    )
    page = raw_request(gunicorn_server.url, page_head)
    assert page.status == 413
    assert page.headers["content-type"] == "text/plain; charset=utf-8"
    assert page.body == b"The request body is too large.\n"
    assert patient_counts(partners) == {"org-a": 1, "org-b": 1}


def test_the_bulk_endpoints_take_bodies_up_to_their_own_limit(gunicorn_server: LiveServer, partners):
    key = partners["org-a"]["key"]
    # Over the ordinary limit, within the bulk one: read and parsed (an empty batch is a 400 naming the field).
    body = json.dumps({"readings": [], "padding": "x" * settings.KURA_MAX_BODY_BYTES}).encode()
    assert settings.KURA_MAX_BODY_BYTES < len(body) < settings.KURA_MAX_BATCH_BODY_BYTES
    read = raw_request(
        gunicorn_server.url, post_head("/api/v1/biomarkers/readings/", key, f"Content-Length: {len(body)}"), body
    )
    assert read.status == 400
    assert api_error(read)["fields"] == {"readings": ["This list may not be empty."]}
    over = settings.KURA_MAX_BATCH_BODY_BYTES + 1
    refused = raw_request(
        gunicorn_server.url, post_head("/api/v1/biomarkers/readings/", key, f"Content-Length: {over}")
    )
    assert refused.status == 413
    assert api_error(refused)["code"] == "too_large"
