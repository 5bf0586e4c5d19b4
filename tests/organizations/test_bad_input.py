"""Bad input is a 4xx in the one error shape, naming the field, never echoing the value, storing nothing.

Each case below was a 500 (or echoed the value) before: deeply nested JSON, bodies of any size, NUL and lone
surrogates in any string, numbers and dates PostgreSQL cannot store, choice filters that repeated the input.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django import forms as django_forms
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from apps.organizations.models import TenantModel
from apps.organizations.parsers import MAX_DEPTH
from apps.organizations.roles import Role, Scope
from tests.biomarkers.factories import reading
from tests.conftest import add_member, api_client, as_tenant, issue_key, logged_in
from tests.factories import PatientFactory

CANARY = "Lindqvist-1984"
SURROGATE = "\\ud800"  # as JSON escapes it: a lone high surrogate


@pytest.fixture
def clinic(org_a, org_b):
    """Org A's owner (session) and a biomarker key; org B with a patient and data of its own."""
    with as_tenant(org_a):
        patient = PatientFactory()
    with as_tenant(org_b):
        PatientFactory()
    keys = [Scope.BIOMARKERS_READ, Scope.BIOMARKERS_WRITE]
    return {
        "orgs": (org_a, org_b),
        "patient": patient,
        "owner": logged_in(add_member(org_a, Role.OWNER)),
        "partner": api_client(issue_key(org_a, scopes=keys, phi_access=True)),
    }


def stored(orgs: tuple[Any, ...]) -> dict[str, int]:
    """Rows of every tenant table, per organization, as each organization's owner sees them."""
    models = [m for m in apps.get_models() if issubclass(m, TenantModel) and not m._meta.proxy]
    counts = {}
    for org in orgs:
        with as_tenant(org):
            for model in models:
                counts[f"{org.slug}.{model._meta.label}"] = model._default_manager.count()
    return counts


def send(client: Client, path: str, body: Any, method: str = "post") -> Any:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return getattr(client, method)(path, data=data, content_type="application/json")


def assert_refused(response: Any, status: int, field: str | None, *hidden: str) -> dict[str, Any]:
    """The one error shape, the field named, none of `hidden` in the body; returned without its request id."""
    assert response.status_code == status, response.content[:500]
    error = response.json()["error"]
    assert error.pop("request_id") == response["X-Request-ID"]
    assert error["status"] == status
    if field is not None:
        assert field in error["fields"], error
        assert error["message"].startswith(f"{field}: ") or f"; {field}: " in error["message"]
    for value in (CANARY, *hidden):
        assert value not in response.content.decode("utf-8", "replace")
    return error


# --- JSON depth and size ---------------------------------------------------------------------------------------


def _body_paths() -> list[tuple[str, str]]:
    """(method, path) of every API operation that reads a body, ids filled in later."""
    found = []

    def walk(resolver: URLResolver, prefix: str) -> None:
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                view = getattr(pattern.callback, "cls", None)
                path = prefix + str(pattern.pattern)
                if view is not None and path.startswith("api/"):
                    found.extend((m, "/" + path) for m in ("post", "put", "patch") if hasattr(view, m))

    walk(get_resolver(), "")
    return sorted(found)


BODY_PATHS = _body_paths()
NAMING_A_MISSING_OBJECT = {
    "/api/v1/appointments/<uuid:appointment_id>/check-in/",
    "/api/v1/appointments/<uuid:appointment_id>/reschedule/",
    "/api/v1/appointments/<uuid:appointment_id>/transitions/",
    "/api/v1/assessment-flags/<uuid:flag_id>/review/",
    "/api/v1/billing/installment-plans/<uuid:plan_id>/installments/<int:number>/outcome/",
    "/api/v1/biomarkers/readings/<uuid:reading_id>/void/",
    "/api/v1/consents/<uuid:consent_id>/revoke/",
    "/api/v1/encounters/<uuid:encounter_id>/notes/",
    "/api/v1/notes/<uuid:note_id>/addenda/",
    "/api/v1/notes/<uuid:note_id>/sign/",
    "/api/v1/patients/<uuid:patient_id>/restore/",  # the patient is not deleted
    "/api/v1/webhook-deliveries/<uuid:delivery_id>/replay/",
    "/api/v1/webhook-endpoints/<uuid:endpoint_id>/",
}
# Actions that take no body at all: whatever is sent is never parsed, and the action does what it always does.
BODYLESS = {"/api/v1/patients/<uuid:patient_id>/ssn/reveal/"}


def _fill(path: str, patient: Any) -> str:
    path = path.replace("<uuid:patient_id>", str(patient.pk)).replace("<int:number>", "1")
    while "<uuid:" in path:
        start = path.index("<uuid:")
        path = path[:start] + str(uuid.uuid4()) + path[path.index(">", start) + 1 :]
    return path


def test_every_body_taking_operation_was_found():
    assert len(BODY_PATHS) == 38


@pytest.mark.parametrize(("method", "path"), BODY_PATHS)
def test_json_nested_deeper_than_the_limit_is_a_400_naming_the_limit(clinic, method, path):
    url = _fill(path, clinic["patient"])
    before = stored(clinic["orgs"])
    body = '{"note": ' + "[" * 100_000 + "]" * 100_000 + "}"

    response = send(clinic["owner"], url, body, method)

    if path in NAMING_A_MISSING_OBJECT:  # answered before the body is read
        assert response.json() == {
            "error": {
                "status": 404,
                "code": "not_found",
                "message": "Not found.",
                "request_id": response["X-Request-ID"],
            }
        }
        return
    if path in BODYLESS:
        assert response.status_code == 200
        assert stored(clinic["orgs"]) == before
        return
    error = assert_refused(response, 400, None)
    assert error == {
        "status": 400,
        "code": "parse_error",
        "message": f"JSON parse error: arrays and objects may nest at most {MAX_DEPTH} levels deep.",
    }
    assert stored(clinic["orgs"]) == before


def test_every_body_taking_operation_documents_the_413(clinic):
    schema = Client().get("/api/v1/schema/?format=json").json()
    documented = {
        (method, path)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    }

    # Every operation of BODY_PATHS but those that take no body (restore, revoke, SSN reveal, sign, check-in,
    # replay).
    assert len(documented) == 32
    for method, path in documented:
        responses = schema["paths"][path][method]["responses"]
        assert responses["413"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_json_nested_to_the_limit_is_parsed(clinic):
    row = reading(clinic["patient"].pk)
    payload: Any = "deep"
    for _ in range(MAX_DEPTH - 3):  # body object, readings array, the row, then raw_payload's objects
        payload = {"x": payload}
    row["raw_payload"] = payload

    response = send(clinic["partner"], "/api/v1/biomarkers/readings/", {"readings": [row]})

    assert response.status_code == 201


def test_a_body_over_the_limit_is_a_413_and_a_batch_may_be_larger(clinic, settings):
    settings.KURA_MAX_BODY_BYTES = 1000
    settings.KURA_MAX_BATCH_BODY_BYTES = 5000
    before = stored(clinic["orgs"])
    note = "x" * 2000

    patient = send(clinic["owner"], "/api/v1/patients/", {"first_name": note})
    batch = send(clinic["partner"], "/api/v1/biomarkers/readings/", {"readings": [reading(clinic["patient"].pk)]})
    huge_batch = send(clinic["partner"], "/api/v1/biomarkers/readings/", {"readings": [{"note": note * 3}]})

    assert assert_refused(patient, 413, None, note) == {
        "status": 413,
        "code": "too_large",
        "message": "The request body is too large.",
    }
    assert batch.status_code == 201
    assert assert_refused(huge_batch, 413, None, note)["code"] == "too_large"
    after = stored(clinic["orgs"])
    assert after["org-a.biomarkers.BiomarkerLog"] == before["org-a.biomarkers.BiomarkerLog"] + 1
    assert after["org-a.events.DomainEvent"] == before["org-a.events.DomainEvent"] + 1  # the batch's event
    changed = ("Biomarker", "DomainEvent")
    assert {k: v for k, v in after.items() if not any(name in k for name in changed)} == {
        k: v for k, v in before.items() if not any(name in k for name in changed)
    }


# --- Text PostgreSQL cannot store, numbers out of its range: in any JSON value ----------------------------------

NUL = "\\u0000"


def _health_event(text: str) -> dict[str, Any]:
    return {
        "event_type": "mood",
        "event_subtype": "daily_checkin",
        "event_data": {"mood": "calm", "confidence": 6, "note": text},
        "occurred_at": "2025-03-01T10:00:00Z",
    }


def _instrument(label: str) -> dict[str, Any]:
    return {
        "code": "sleep-check",
        "name": "Sleep check",
        "items": ["Trouble falling asleep"],
        "min_answer": 0,
        "max_answer": 4,
        "bands": [{"min": 0, "max": 2, "label": "fine"}, {"min": 3, "max": 4, "label": label}],
    }


def _import(value: str) -> dict[str, Any]:
    record = {"id": value, "bedtime_end": "2025-03-01T06:40:00+01:00", "average_hrv": 48}
    return {"format": "oura_sleep", "records": [record]}


# (who, path, body with the bad JSON text where `{}` is, the field the answer names)
TEXT_CASES = [
    ("partner", "/api/v1/biomarkers/readings/", lambda p, t: {"readings": [reading(p), reading(p, value_text=t)]},
     "readings[1].value_text"),
    ("partner", "/api/v1/biomarkers/readings/",
     lambda p, t: {"readings": [reading(p), reading(p, raw_payload={"device": {"note": t}})]},
     "readings[1].raw_payload.device.note"),
    ("partner", "/api/v1/biomarkers/imports/", lambda p, t: {**_import(t), "patient_id": str(p)}, "records[0].id"),
    ("owner", "/api/v1/patients/{patient}/health-events/", lambda p, t: _health_event(t), "event_data.note"),
    ("owner", "/api/v1/assessments/instruments/", lambda p, t: _instrument(t), "bands[1].label"),
    ("owner", "/api/v1/patients/", lambda p, t: {"first_name": t, "last_name": "Doe", "date_of_birth": "1990-01-01",
                                                "mrn": "M-1"}, "first_name"),
    ("owner", "/api/v1/encounters/", lambda p, t: {"patient_id": str(p), "encounter_type": "outpatient",
                                                  "started_at": "2025-03-01T10:00:00Z", "facility_name": t},
     "facility_name"),
]  # fmt: skip


@pytest.mark.parametrize("text", [SURROGATE, NUL, f"{CANARY}{SURROGATE}", f"{NUL}{CANARY}"])
@pytest.mark.parametrize(("who", "path", "body", "field"), TEXT_CASES)
def test_text_postgresql_cannot_store_is_a_400_naming_the_field(clinic, who, path, body, field, text):
    before = stored(clinic["orgs"])
    payload = json.dumps(body(clinic["patient"].pk, "@@TEXT@@")).replace("@@TEXT@@", text)

    response = send(clinic[who], path.format(patient=clinic["patient"].pk), payload)

    error = assert_refused(response, 400, field, "\\ud800", "\\u0000")
    problem = "NUL character" if NUL in text else "unpaired surrogate"
    assert problem in error["fields"][field][0]
    assert stored(clinic["orgs"]) == before


def test_a_key_holding_a_nul_names_the_object_that_holds_it(clinic):
    payload = json.dumps(_health_event("fine")).replace('"note"', f'"no{NUL}te"')

    response = send(clinic["owner"], f"/api/v1/patients/{clinic['patient'].pk}/health-events/", payload)

    assert assert_refused(response, 400, "event_data")["fields"] == {
        "event_data": ["A key: Text must not contain the NUL character (U+0000)."]
    }


@pytest.mark.parametrize(
    ("literal", "message"),
    [
        ("NaN", "Must be a finite number."),
        ("Infinity", "Must be a finite number."),
        ("-Infinity", "Must be a finite number."),
        ("1e400", "Must be a finite number."),
        ("-1e400", "Must be a finite number."),
        ("9" * 400, "Must be an integer between -9223372036854775808 and 9223372036854775807."),
        ("-9223372036854775809", "Must be an integer between -9223372036854775808 and 9223372036854775807."),
        ("9" * 5000, "Must be an integer between -9223372036854775808 and 9223372036854775807."),
    ],
)
@pytest.mark.parametrize(
    ("who", "path", "body", "field"),
    [
        ("partner", "/api/v1/biomarkers/readings/",
         lambda p: {"readings": [reading(p), reading(p, raw_payload={"score": "@@N@@"})]},
         "readings[1].raw_payload.score"),
        ("owner", "/api/v1/patients/{patient}/health-events/",
         lambda p: {**_health_event("ok"), "event_data": {"mood": "calm", "confidence": "@@N@@"}},
         "event_data.confidence"),
        ("owner", "/api/v1/billing/installment-plans/",
         lambda p: {"patient_id": str(p), "program": "Retreat", "total_cents": "@@N@@", "installment_count": 2,
                    "first_due_date": "2025-03-01", "interval_days": 30},
         "total_cents"),
    ],
)  # fmt: skip
def test_numbers_postgresql_cannot_store_are_a_400_naming_the_field(clinic, who, path, body, field, literal, message):
    before = stored(clinic["orgs"])
    payload = json.dumps(body(clinic["patient"].pk)).replace('"@@N@@"', literal)
    assert literal in payload

    response = send(clinic[who], path.format(patient=clinic["patient"].pk), payload)

    assert assert_refused(response, 400, field, "9" * 30)["fields"] == {field: [message]}
    assert stored(clinic["orgs"]) == before


# --- Dates at the calendar's edges ------------------------------------------------------------------------------

EDGE_DATETIMES = [
    "0001-01-01T00:00:00+23:00",  # before year 1 in UTC
    "9999-12-31T23:59:59-23:00",  # after year 9999 in UTC
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "0000-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
]
STORABLE_EDGES = {"0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"}


def _encounter(p: Any, at: str) -> dict[str, Any]:
    return {"patient_id": str(p), "encounter_type": "outpatient", "started_at": at}


def _clinical_event(p: Any, at: str) -> dict[str, Any]:
    event = {
        "activity_type": "observation",
        "clinical_purposes": ["screening"],
        "event_name": "Check",
        "event_date": at,
    }
    return {"patient_id": str(p), "event": event}


CONSENT = {"consent_type": "treatment", "granted": True}
DATETIME_BODIES = [
    ("owner", "/api/v1/patients/{patient}/health-events/", lambda p, at: {**_health_event("ok"), "occurred_at": at},
     "occurred_at"),
    ("owner", "/api/v1/encounters/", _encounter, "started_at"),
    ("owner", "/api/v1/encounters/", lambda p, at: {**_encounter(p, "2025-03-01T10:00:00Z"), "ended_at": at},
     "ended_at"),
    ("owner", "/api/v1/clinical-events/", _clinical_event, "event.event_date"),
    ("owner", "/api/v1/patients/{patient}/consents/", lambda p, at: {**CONSENT, "granted_at": at}, "granted_at"),
    ("owner", "/api/v1/patients/{patient}/consents/", lambda p, at: {**CONSENT, "expires_at": at}, "expires_at"),
    ("owner", "/api/v1/patients/{patient}/assessments/",
     lambda p, at: {"instrument": "phq4", "answers": [1, 1, 1, 1], "completed_at": at}, "completed_at"),
    ("partner", "/api/v1/biomarkers/readings/", lambda p, at: {"readings": [reading(p, captured_at=at)]},
     "readings[0].captured_at"),
]  # fmt: skip


@pytest.mark.parametrize("at", EDGE_DATETIMES)
@pytest.mark.parametrize(("who", "path", "body", "field"), DATETIME_BODIES)
def test_a_datetime_at_the_calendars_edge_is_a_400_naming_the_field(clinic, who, path, body, field, at):
    before = stored(clinic["orgs"])

    response = send(clinic[who], path.format(patient=clinic["patient"].pk), body(clinic["patient"].pk, at))

    if at in STORABLE_EDGES:  # an instant PostgreSQL stores: the domain's rules decide
        assert response.status_code in (201, 400)
        if response.status_code == 201:
            return
        assert_refused(response, 400, None, at)
    else:
        assert_refused(response, 400, field, at)
    assert stored(clinic["orgs"]) == before


@pytest.mark.parametrize(
    ("first_due_date", "count", "interval"),
    [("9999-12-01", 4, 30), ("9999-12-31", 2, 1), ("9900-01-01", 120, 366)],
)
def test_an_installment_plan_whose_due_dates_pass_year_9999_is_a_400(clinic, first_due_date, count, interval):
    before = stored(clinic["orgs"])
    body = {
        "patient_id": str(clinic["patient"].pk),
        "program": "Retreat",
        "total_cents": 120_000,
        "installment_count": count,
        "first_due_date": first_due_date,
        "interval_days": interval,
    }

    response = send(clinic["owner"], "/api/v1/billing/installment-plans/", body)

    assert assert_refused(response, 400, "first_due_date", first_due_date)["fields"] == {
        "first_due_date": ["Date out of range: the last installment would fall after year 9999."]
    }
    assert stored(clinic["orgs"]) == before


QUERY_DATES = [
    ("/api/v1/billing/aging/", "as_of", ["0001-01-01", "9999-12-31", "0000-01-01", "99999999999999999999-01-01"]),
    ("/api/v1/billing/totals/", "as_of", ["0001-01-01", "9999-12-31", "10000-01-01"]),
    ("/api/v1/billing/patients/{patient}/balance/", "as_of", ["0001-01-01", "9999-12-31", "10000-01-01"]),
    ("/api/v1/patients/{patient}/health-events/", "since", EDGE_DATETIMES),
    ("/api/v1/patients/{patient}/health-events/", "until", EDGE_DATETIMES),
    ("/api/v1/patients/{patient}/health-events/summary/", "days", ["99999999999999999999", "-1"]),
    ("/api/v1/patients/{patient}/medication-adherence/", "days", ["99999999999999999999", "-1"]),
    ("/api/v1/biomarkers/patients/{patient}/series/?metric_type=steps", "start", EDGE_DATETIMES),
    ("/api/v1/biomarkers/patients/{patient}/series/?metric_type=steps", "end", EDGE_DATETIMES),
    ("/api/v1/clinical-events/", "date_from", EDGE_DATETIMES),
    ("/api/v1/encounters/", "started_after", EDGE_DATETIMES),
    ("/api/v1/patients/", "date_of_birth", ["0001-01-01", "9999-12-31", "0000-01-01", "10000-01-01"]),
]


@pytest.mark.parametrize(
    ("path", "parameter", "value"), [(p, name, v) for p, name, values in QUERY_DATES for v in values]
)
def test_a_query_date_at_the_calendars_edge_is_never_a_500(clinic, path, parameter, value):
    url = path.format(patient=clinic["patient"].pk)
    joiner = "&" if "?" in url else "?"

    response = clinic["owner"].get(f"{url}{joiner}{parameter}={value.replace('+', '%2B')}")

    if response.status_code == 200:  # a date PostgreSQL stores is a fine date to ask about
        assert value in (*STORABLE_EDGES, "0001-01-01", "9999-12-31")
    else:
        assert_refused(response, 400, parameter, value)


# --- Messages never echo the input ------------------------------------------------------------------------------

CHOICE = "Select a valid choice. That choice is not one of the available choices."
DRF_CHOICE = "This value is not a valid choice."


@pytest.mark.parametrize(
    ("path", "parameter", "message"),
    [
        ("/api/v1/patients/", "status", CHOICE),
        ("/api/v1/patients/", "sex_at_birth", CHOICE),
        ("/api/v1/patients/{patient}/consents/", "consent_type", CHOICE),
        ("/api/v1/encounters/", "encounter_type", CHOICE),
        ("/api/v1/clinical-events/", "activity_type", CHOICE),
        ("/api/v1/clinical-events/", "purpose", CHOICE),
        ("/api/v1/clinical-events/", "detail_type", CHOICE),
        ("/api/v1/clinical-events/", "patient", "Enter a valid UUID."),
        ("/api/v1/biomarkers/patients/{patient}/series/", "metric_type", DRF_CHOICE),
        ("/api/v1/biomarkers/patients/{patient}/series/?metric_type=steps", "bucket", DRF_CHOICE),
    ],
)  # fmt: skip
def test_a_bad_choice_in_a_query_is_a_400_naming_the_parameter_without_the_value(clinic, path, parameter, message):
    url = path.format(patient=clinic["patient"].pk)

    response = (
        clinic["owner"].get(url, {parameter: CANARY})
        if "?" not in url
        else clinic["owner"].get(f"{url}&{parameter}={CANARY}")
    )

    assert assert_refused(response, 400, parameter)["fields"] == {parameter: [message]}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/encounters/", lambda p: _encounter(p, "2025-03-01T10:00:00Z") | {"encounter_type": CANARY},
         "encounter_type"),
        ("/api/v1/patients/", lambda p: {"first_name": "A", "last_name": "B", "date_of_birth": "1990-01-01",
                                         "mrn": "M-2", "sex_at_birth": CANARY}, "sex_at_birth"),
        ("/api/v1/clinical-events/",
         lambda p: _clinical_event(p, "2025-03-01T10:00:00Z") | {"event": {"activity_type": CANARY}},
         "event.activity_type"),
        ("/api/v1/billing/charges/", lambda p: {"patient_id": str(p), "transaction_type": CANARY, "amount_cents": 100},
         "transaction_type"),
        ("/api/v1/billing/charges/", lambda p: {"patient_id": str(p), "transaction_type": "retail_product",
                                                "amount_cents": 100, "currency": CANARY}, "currency"),
    ],
)  # fmt: skip
def test_a_bad_choice_in_a_body_is_a_400_naming_the_field_without_the_value(clinic, path, body, field):
    before = stored(clinic["orgs"])

    response = send(clinic["owner"], path, body(clinic["patient"].pk))

    assert assert_refused(response, 400, field)["fields"][field] == ["This value is not a valid choice."]
    assert stored(clinic["orgs"]) == before


def test_no_field_class_or_model_field_puts_the_input_in_a_message():
    from apps.organizations.input_messages import ECHOES_INPUT, field_classes

    echoing = [
        f"{cls.__module__}.{cls.__qualname__}.{key}"
        for cls in field_classes()
        for key, message in cls.__dict__.get("default_error_messages", {}).items()
        if ECHOES_INPUT.search(str(message))
    ]
    echoing += [
        f"{model._meta.label}.{field.name}.{key}"
        for model in apps.get_models(include_auto_created=True)
        for field in model._meta.get_fields(include_hidden=True)
        for key, message in getattr(field, "error_messages", {}).items()
        if ECHOES_INPUT.search(str(message))
    ]
    assert echoing == []


def test_model_validation_names_the_rule_without_the_value(clinic):
    from django.core.exceptions import ValidationError as DjangoValidationError

    from apps.clinical.models import Encounter

    with as_tenant(clinic["orgs"][0]):
        encounter = Encounter(patient=clinic["patient"], encounter_type=CANARY, started_at="2025-03-01T10:00:00Z")
        with pytest.raises(DjangoValidationError) as raised:
            encounter.full_clean(exclude=["organization", "patient"])
    assert raised.value.message_dict["encounter_type"] == ["This value is not a valid choice."]


# --- Every query parameter of every API read, with hostile values -----------------------------------------------


def test_every_query_parameter_of_every_api_read_refuses_hostile_values_without_echo(clinic):
    schema = Client().get("/api/v1/schema/?format=json").json()
    refused = []
    for path, operations in schema["paths"].items():
        if "get" not in operations or "{" in path.replace("{patient_id}", ""):
            continue
        url = path.replace("{patient_id}", str(clinic["patient"].pk))
        for parameter in operations["get"].get("parameters", []):
            if parameter["in"] != "query":
                continue
            name = parameter["name"]
            for value in (f"{CANARY}\x00", CANARY, "9" * 400, "0001-01-01T00:00:00+23:00", "10000-01-01"):
                response = clinic["owner"].get(url, {name: value})
                body = response.content.decode()
                # (a page's next link carries its own query parameters; an error must not repeat them)
                echoed = response.status_code >= 400 and (CANARY in body or "9" * 30 in body)
                if response.status_code >= 500 or echoed:
                    refused.append((path, name, value[:20], response.status_code))
                if "\x00" in value:
                    assert response.status_code == 400
                    assert response.json()["error"]["fields"] == {
                        name: ["Text must not contain the NUL character (U+0000)."]
                    }
    assert refused == []


# --- Admin list filters, date hierarchy and search --------------------------------------------------------------

HOSTILE = [
    f"{CANARY}\x00",
    CANARY,
    "99999999999999999999",
    "9999",
    "10000-01-01",
    "0001-01-01 00:00:00+23:00",
    "not-a-uuid",
]


def _changelists() -> list[str]:
    from django.contrib import admin

    return sorted(f"/admin/{model._meta.app_label}/{model._meta.model_name}/" for model in admin.site._registry)


def _parameters(client: Client, url: str) -> list[str]:
    """Every query parameter the changelist's filters, date hierarchy and search read."""
    cl = client.get(url).context["cl"]
    names = {name for spec in cl.filter_specs for name in spec.expected_parameters()}
    if cl.date_hierarchy:
        names |= {f"{cl.date_hierarchy}__{part}" for part in ("year", "month", "day")}
    if cl.search_fields:
        names.add("q")
    return sorted(names)


def test_every_admin_changelist_answers_hostile_filter_values_without_a_500_or_an_echo(clinic):
    client = clinic["owner"]
    client.raise_request_exception = False  # collect every 500, not only the first
    urls = _changelists()
    walked, failures = 0, []
    for url in urls:
        assert client.get(url).status_code == 200, url
        for name in _parameters(client, url):
            for value in HOSTILE:
                params = {name: value}
                if name.endswith(("__month", "__day")):  # the hierarchy reads them below a year
                    params[name.rsplit("__", 1)[0] + "__year"] = "2025"
                response = client.get(url, params)
                walked += 1
                body = response.content.decode("utf-8", "replace")
                # A page may show the caller's own search and filters back (its search box, its links); an error
                # may not.
                if response.status_code not in (200, 302, 400) or (response.status_code == 400 and CANARY in body):
                    failures.append((url, name, value, response.status_code))
                elif response.status_code == 302:
                    assert response["Location"].endswith("?e=1"), (url, name, value)
                elif "\x00" in value:
                    assert response.status_code == 400, (url, name)
    assert sorted(set(failures)) == []
    assert len(urls) > 20
    assert walked > 28 * len(HOSTILE)


# --- Admin forms -------------------------------------------------------------------------------------------------


def test_an_admin_form_field_holding_a_nul_is_a_400_and_stores_nothing(clinic):
    before = stored(clinic["orgs"])
    form = {"first_name": f"{CANARY}\x00", "last_name": "Doe", "date_of_birth": "1990-01-01", "mrn": "M-9"}

    response = clinic["owner"].post("/admin/patients/patient/add/", form)

    assert response.status_code == 400
    assert CANARY not in response.content.decode()
    assert stored(clinic["orgs"]) == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"note": "a\\u0000b"}', "note: Text must not contain the NUL character (U+0000)."),
        ('[1, {"label": "\\ud800"}]', "[1].label: Text must not contain an unpaired surrogate (U+D800 to U+DFFF)."),
        ('{"systolic": NaN}', "systolic: Must be a finite number."),
        ('{"systolic": 1e400}', "systolic: Must be a finite number."),
        ("[" * 40 + "]" * 40, f"JSON parse error: arrays and objects may nest at most {MAX_DEPTH} levels deep."),
    ],
)
def test_every_admin_json_field_refuses_what_postgresql_cannot_store(text, message):
    from django.contrib import admin
    from django.db import models

    from apps.organizations.admin_base import StorableJSONField

    admins = [*admin.site._registry.values()]
    inlines = [inline(model_admin.model, admin.site) for model_admin in admins for inline in model_admin.inlines]
    fields = [
        model_admin.formfield_for_dbfield(field, request=None)
        for model_admin in [*admins, *inlines]
        for field in model_admin.model._meta.fields
        if isinstance(field, models.JSONField) and model_admin.model._meta.app_label != "auth"
    ]
    assert len(fields) >= 5
    for field in fields:
        assert isinstance(field, StorableJSONField)
        with pytest.raises(django_forms.ValidationError) as raised:
            field.clean(text)
        assert raised.value.messages == [message]
    assert fields[0].clean('{"note": "fine \\\\u0000"}') == {"note": "fine \\u0000"}


FORM_VALUES = ["9" * 400, "1e400", "10000-01-01", "0001-01-01", "not-a-uuid"]


def _add_form(client: Client, url: str) -> tuple[Any, dict[str, Any]] | None:
    """The add page's form and the management data of its inline formsets, if the page is a form."""
    page = client.get(url)
    if page.status_code != 200 or page.context is None:
        return None
    if "adminform" in page.context:
        form = page.context["adminform"].form
    elif "form" in page.context:
        form = page.context["form"]
    else:
        return None
    data: dict[str, Any] = {}
    for inline in page.context.get("inline_admin_formsets", []):
        prefix = inline.formset.prefix
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    return form, data


def test_every_admin_add_form_answers_hostile_values_without_a_500(clinic):
    """A form shown again shows the caller's own input in its fields; what matters is that it is shown."""
    from django.contrib import admin

    client = clinic["owner"]
    client.raise_request_exception = False
    before = stored(clinic["orgs"])
    failures, posted = [], 0
    for model in admin.site._registry:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/add/"
        found = _add_form(client, url)
        if found is None:
            continue
        form, management = found
        for name, field in form.fields.items():
            for value in FORM_VALUES:
                data = dict(management)
                if isinstance(field.widget, django_forms.SplitDateTimeWidget):
                    data |= {f"{name}_0": value, f"{name}_1": "00:00"}
                else:
                    data[name] = value
                response = client.post(url, data)
                posted += 1
                if response.status_code >= 500:
                    failures.append((url, name, value[:12], response.status_code))
    assert failures == []
    assert posted > 100
    after = stored(clinic["orgs"])
    assert {k: v for k, v in after.items() if k.startswith("org-b")} == {
        k: v for k, v in before.items() if k.startswith("org-b")
    }


@pytest.mark.parametrize("path", ["/api/v1/patients/?search=", "/admin/patients/patient/?q="])
def test_a_surrogate_cannot_arrive_in_a_query_and_a_nul_is_refused(clinic, path):
    encoded_surrogate = clinic["owner"].get(f"{path}a%ED%A0%80b")  # not UTF-8: Django decodes it as U+FFFD
    nul = clinic["owner"].get(f"{path}{CANARY}%00")

    assert encoded_surrogate.status_code == 200
    assert nul.status_code == 400
    assert CANARY not in nul.content.decode()
    if path.startswith("/api/"):
        assert nul.json()["error"]["fields"] == {"search": ["Text must not contain the NUL character (U+0000)."]}
