"""A Python client generated with openapi-python-client from the live schema drives every operation of the API.

The partners' promise: a client built by a generator from the OpenAPI schema works. This test serves Kura with
gunicorn, fetches the schema from it, generates a client (offline, no post hooks: `openapi-python-client.yaml`),
imports it and calls every operation the schema lists through it, as a partner key (scoped, with PHI access) or,
where only staff may act, as the clinic's owner. Each call must answer a documented 2xx status whose body the
generated model parses, with the documented `Location` on a 201. The operations are enumerated from the schema:
an operation added without a call here fails the test.
"""

from __future__ import annotations

import datetime as dt
import enum
import importlib
import json
import subprocess
import sys
import typing
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from apps.events import services as event_services
from apps.organizations.roles import Role
from tests.billing.factories import PROVIDER_FIELDS
from tests.conftest import add_member, as_tenant, issue_key, make_organization
from tests.factories import PatientFactory
from tests.live import LiveServer, key_headers, session_headers
from tests.scheduling.factories import make_clinic

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("committed")]

CONFIG = Path(__file__).with_name("openapi-python-client.yaml")
PACKAGE = "kura_client"
SOAP = {"subjective": "Sleeping poorly.", "objective": "Calm.", "assessment": "GAD.", "plan": "CBT weekly."}


def live_schema(server: LiveServer, headers: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(f"{server.url}/api/v1/schema/?format=json", headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - our own local server
        schema: dict[str, Any] = json.loads(answer.read())
    return schema


def generate_client(schema: dict[str, Any], directory: Path) -> Any:
    """The generated client package, imported from `directory`."""
    path = directory / "schema.json"
    path.write_text(json.dumps(schema))
    command = [sys.executable, "-m", "openapi_python_client", "generate", f"--path={path}", f"--config={CONFIG}"]
    command += ["--meta=none", f"--output-path={directory / PACKAGE}", "--fail-on-warning"]
    generated = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    sys.path.insert(0, str(directory))
    return importlib.import_module(PACKAGE)


@pytest.fixture
def generated(gunicorn_server: LiveServer, tmp_path: Path) -> Iterator[Any]:
    yield gunicorn_server
    for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


class Driver:
    """Calls operations by id through the generated client and checks each answer against the schema."""

    def __init__(self, package: Any, schema: dict[str, Any], partner: Any, staff: Any) -> None:
        self.package = package
        self.models = importlib.import_module(f"{PACKAGE}.models")
        self.partner, self.staff = partner, staff
        self.operations = {
            operation["operationId"]: operation
            for operations in schema["paths"].values()
            for operation in operations.values()
        }
        self.called: set[str] = set()

    def body(self, model: str, data: dict[str, Any]) -> Any:
        return getattr(self.models, model).from_dict(data)

    def __call__(self, operation_id: str, *, staff: bool = False, **arguments: Any) -> Any:
        operation = self.operations[operation_id]
        tag = operation["tags"][0].replace("-", "_")
        module = importlib.import_module(f"{PACKAGE}.api.{tag}.{operation_id}")
        hints = typing.get_type_hints(module.sync_detailed)
        for name, value in arguments.items():  # an enum parameter takes the generated enum's member
            kinds = typing.get_args(hints[name]) or (hints[name],)
            for kind in kinds:
                if isinstance(value, str) and isinstance(kind, type) and issubclass(kind, enum.Enum):
                    arguments[name] = kind(value)
        response = module.sync_detailed(client=self.staff if staff else self.partner, **arguments)
        code = str(int(response.status_code))
        assert code.startswith("2"), (operation_id, code, response.content[:800])
        assert code in operation["responses"], (operation_id, code)
        documented = operation["responses"][code]
        if "content" in documented:
            assert response.parsed is not None, operation_id
            assert not isinstance(response.parsed, self.models.Error), operation_id
        if "Location" in documented.get("headers", {}):
            assert response.headers["location"].endswith(f"/{response.parsed.id}/"), operation_id
        self.called.add(operation_id)
        return response.parsed


def test_a_generated_client_calls_every_operation_as_documented(generated: LiveServer, tmp_path: Path) -> None:
    org, other = make_organization("org-a"), make_organization("org-b")
    clinic = make_clinic(org)
    with as_tenant(other):
        other_patient = PatientFactory()
    owner = add_member(org, Role.OWNER)
    raw_key = issue_key(org, phi_access=True)
    schema = live_schema(generated, key_headers(raw_key))
    package = generate_client(schema, tmp_path)
    client_module = importlib.import_module(f"{PACKAGE}.client")
    partner = client_module.AuthenticatedClient(base_url=generated.url, token=raw_key, prefix="Api-Key", timeout=60)
    staff = client_module.Client(base_url=generated.url, headers=session_headers(owner), timeout=60)
    call = Driver(package, schema, partner, staff)
    now = timezone.now().replace(microsecond=0)
    earlier = (now - dt.timedelta(hours=2)).isoformat()

    # Who calls; webhooks first, so that what follows is delivered.
    assert call("me_retrieve").kind == "partner"
    call("me_organization_create", staff=True, body=call.body("OrganizationSwitchRequest", {"organization": "org-a"}))
    endpoint = call(
        "webhook_endpoints_create",
        body=call.body(
            "WebhookEndpointInputRequest", {"url": "http://127.0.0.1:9/kura", "event_types": ["patient.created"]}
        ),
    )
    call("webhook_endpoints_list")
    call("webhook_endpoints_retrieve", endpoint_id=endpoint.id)
    call(
        "webhook_endpoints_partial_update",
        endpoint_id=endpoint.id,
        body=call.body("PatchedWebhookEndpointChangeInputRequest", {"description": "Sync service"}),
    )

    # Patients and consents.
    registration = {"given_name": "Mateo", "family_name": "Okafor", "date_of_birth": "1991-11-02"}
    since = timezone.now()
    patient = call("patients_create", body=call.body("PatientRegistrationInputRequest", registration))
    patient_id = patient.id
    assert [row.id for row in call("patients_list", updated_since=since).results] == [patient_id]
    call("patients_retrieve", patient_id=patient_id)
    call(
        "patients_partial_update", patient_id=patient_id, body=call.body("PatchedPatientInputRequest", {"city": "Lyon"})
    )
    removed = call(
        "patients_create",
        body=call.body(
            "PatientRegistrationInputRequest", {**registration, "given_name": "Lucía", "date_of_birth": "1990-01-01"}
        ),
    )
    call("patients_destroy", patient_id=removed.id)
    call("patients_restore_create", patient_id=removed.id)
    call("patients_ssn_reveal_create", patient_id=patient_id)
    consent = call(
        "patients_consents_create",
        patient_id=patient_id,
        body=call.body("ConsentInputRequest", {"consent_type": "data_sharing", "granted": True}),
    )
    call("patients_consents_list", patient_id=patient_id)
    call("consents_revoke_create", consent_id=consent.id)

    # Encounters, notes, clinical events, vitals.
    encounter = call(
        "encounters_create",
        body=call.body(
            "EncounterInputRequest",
            {"patient_id": str(patient_id), "encounter_type": "outpatient", "started_at": earlier},
        ),
    )
    call("encounters_list", patient=patient_id)
    call("encounters_retrieve", encounter_id=encounter.id)
    note = call(
        "encounters_notes_create",
        staff=True,
        encounter_id=encounter.id,
        body=call.body("NoteInputRequest", {"template": "soap", "sections": SOAP, "diagnosis_codes": ["F41.1"]}),
    )
    call("encounters_notes_list", encounter_id=encounter.id)
    call("notes_retrieve", note_id=note.id)
    call("notes_sign_create", staff=True, note_id=note.id)
    call("notes_addenda_create", staff=True, note_id=note.id, body=call.body("AddendumInputRequest", {"text": "Seen."}))
    event_body = {
        "patient_id": str(patient_id),
        "event": {
            "activity_type": "observation",
            "clinical_purposes": ["screening"],
            "event_name": "Check",
            "event_date": earlier,
        },
    }
    event = call("clinical_events_create", body=call.body("ClinicalEventInputRequest", event_body))
    call("clinical_events_list", patient=patient_id)
    call("clinical_events_retrieve", event_id=event.id)
    call("clinical_events_destroy", event_id=event.id)
    blood_pressure = {
        "vital_type": "blood_pressure",
        "measurement_value": {"systolic": 120, "diastolic": 80},
        "unit": "mmHg",
        "measurement_date": earlier,
    }
    call(
        "patients_manual_entries_create",
        patient_id=patient_id,
        body=call.body("ManualEntryBodyVitalsRequest", {"detail_type": "vitals", "values": blood_pressure}),
    )
    call(
        "patients_vitals_create",
        patient_id=patient_id,
        body=call.body("VitalsInputRequest", {"measured_at": earlier, "blood_pressure": "128/82", "heart_rate": "72"}),
    )

    # Timeline and assessments.
    mood = {
        "event_type": "mood",
        "event_subtype": "daily_checkin",
        "event_data": {"mood": "calm", "confidence": 7},
        "occurred_at": earlier,
    }
    call("patients_health_events_create", patient_id=patient_id, body=call.body("HealthEventBodyMoodRequest", mood))
    call("patients_health_events_retrieve", patient_id=patient_id)
    call("patients_health_events_summary_retrieve", patient_id=patient_id)
    call("patients_medication_adherence_retrieve", patient_id=patient_id)
    call("assessments_instruments_retrieve")
    definition = {
        "code": "wellbeing",
        "name": "Wellbeing check",
        "items": ["Rested?", "Calm?"],
        "max_answer": 3,
        "bands": [{"min": 0, "max": 6, "label": "any"}],
    }
    call("assessments_instruments_create", body=call.body("AssessmentDefinitionInputRequest", definition))
    phq9 = {"instrument": "phq9", "answers": [1, 1, 1, 1, 1, 1, 1, 1, 1]}
    call("patients_assessments_create", patient_id=patient_id, body=call.body("AssessmentInputRequest", phq9))
    call("patients_assessments_list", patient_id=patient_id)
    (flag,) = call("assessment_flags_list").results
    call(
        "assessment_flags_review_create",
        flag_id=flag.id,
        body=call.body("FlagReviewInputRequest", {"action": "contacted_patient", "comment": "Called the patient."}),
    )

    # Biomarkers.
    call("biomarkers_metrics_list")
    reading = {
        "patient_id": str(patient_id),
        "source": "apple_health_kit",
        "source_reading_id": "9B2E6C1A-6F1D-4C1B-9E0A-3C5D7F8A9B10",
        "metric_type": "steps",
        "value_numeric": 1200,
        "unit": "count",
        "captured_at": earlier,
    }
    call("biomarkers_readings_create", body=call.body("ReadingBatchInputRequest", {"readings": [reading]}))
    readiness = {"id": "8f2d", "timestamp": earlier, "score": 55}
    call(
        "biomarkers_imports_create",
        body=call.body(
            "RecordImportBodyOuraDailyReadinessRequest",
            {"format": "oura_daily_readiness", "patient_id": str(patient_id), "records": [readiness]},
        ),
    )
    call(
        "biomarkers_patients_series_retrieve",
        patient_id=patient_id,
        metric_type="steps",
        bucket="day",
        tz="America/Chicago",
    )
    call("biomarkers_patients_series_retrieve", patient_id=patient_id, metric_type="readiness_score")
    latest = call("biomarkers_patients_latest_list", patient_id=patient_id)
    (steps,) = [row for row in latest if row.metric_type == "steps"]
    first = call("biomarkers_out_of_reference_list", patient_id=patient_id, limit=1)
    second = call("biomarkers_out_of_reference_list", patient_id=patient_id, limit=1, cursor=first.next_cursor)
    assert second.next_cursor is None
    assert {row.metric_type for row in [*first.results, *second.results]} == {"steps", "readiness_score"}
    voided = call(
        "biomarkers_readings_void_create",
        reading_id=steps.id,
        body=call.body("ReadingVoidInputRequest", {"reason": "Counted on the wrong phone."}),
    )
    assert voided.voided_at is not None
    history = call("biomarkers_readings_history_retrieve", reading_id=steps.id)
    assert [version.change for version in history.versions] == ["stored", "voided"]

    # Scheduling.
    call("appointment_types_list")
    call("providers_list")
    first_day = timezone.localdate() + dt.timedelta(days=1)
    slots = call(
        "free_slots_list",
        appointment_type_id=clinic.therapy.pk,
        provider_id=clinic.provider.pk,
        first_day=first_day,
        last_day=first_day + dt.timedelta(days=6),
    )
    booking = {
        "patient_id": str(patient_id),
        "provider_id": str(clinic.provider.pk),
        "appointment_type_id": str(clinic.therapy.pk),
        "starts_at": slots[0].starts_at.isoformat(),
    }
    appointment = call("appointments_create", body=call.body("AppointmentInputRequest", booking))
    call("appointments_list", provider=clinic.provider.pk)
    call("appointments_retrieve", appointment_id=appointment.id)
    call(
        "appointments_reschedule_create",
        appointment_id=appointment.id,
        body=call.body("RescheduleInputRequest", {"starts_at": slots[2].starts_at.isoformat()}),
    )
    call(
        "appointments_transitions_create",
        appointment_id=appointment.id,
        body=call.body("TransitionInputRequest", {"status": "confirmed"}),
    )
    call("appointments_check_in_create", appointment_id=appointment.id)
    series = {**booking, "starts_at": slots[-1].starts_at.isoformat(), "frequency": "weekly", "occurrences": 2}
    call("appointment_series_create", body=call.body("AppointmentSeriesInputRequest", series))

    # Billing.
    call("billing_provider_update", body=call.body("ProviderInputRequest", PROVIDER_FIELDS))
    call("billing_provider_retrieve")
    payer = call(
        "billing_payers_create", body=call.body("PayerInputRequest", {"name": "Acme Health", "payer_id": "ACME1"})
    )
    call("billing_payers_list")
    call("billing_payers_retrieve", payer_id=payer.id)
    policy_body = {
        "patient_id": str(patient_id),
        "payer": str(payer.id),
        "member_id": "XJ1234567",
        "address_line1": "1 Main St",
        "city": "Portland",
        "state": "OR",
        "postal_code": "97201",
    }
    policy = call("billing_insurance_policies_create", body=call.body("PolicyInputRequest", policy_body))
    call("billing_insurance_policies_list", patient=patient_id)
    call("billing_insurance_policies_retrieve", policy_id=policy.id)
    clinical = {
        "patient_id": str(patient_id),
        "transaction_type": "clinical_service",
        "amount_cents": 18000,
        "metadata": {"cpt_code": "90837", "diagnosis_codes": ["F43.10"]},
    }
    charge = call("billing_charges_create", body=call.body("ChargeBodyClinicalServiceRequest", clinical))
    retail = {
        "patient_id": str(patient_id),
        "transaction_type": "retail_product",
        "amount_cents": 2599,
        "metadata": {"sku": "MAG-250"},
    }
    sale = call(
        "billing_charges_create",
        body=call.body("ChargeBodyRetailProductRequest", retail),
        idempotency_key=f"sale-{uuid.uuid4()}",
    )
    payment = {
        "patient_id": str(patient_id),
        "amount_cents": 18000,
        "allocations": [{"charge_id": str(charge.id), "amount_cents": 18000}],
        "metadata": {"method": "check", "note": "Check 1042"},
    }
    call("billing_payments_create", body=call.body("PaymentInputRequest", payment))
    prepayment = {
        "patient_id": str(patient_id),
        "amount_cents": 5000,
        "allow_credit": True,
        "transaction_type": "retail_product",
    }
    credit = call("billing_payments_create", body=call.body("PaymentInputRequest", prepayment))
    apply_credit = {"credit_id": str(credit.id), "allocations": [{"charge_id": str(sale.id), "amount_cents": 2000}]}
    call("billing_credit_applications_create", body=call.body("CreditApplyInputRequest", apply_credit))
    call(
        "billing_refunds_create",
        body=call.body("RefundInputRequest", {"payment_id": str(credit.id), "amount_cents": 1000}),
    )
    assert len(call("billing_entries_list", patient=patient_id).results) == 5
    call("billing_entries_retrieve", entry_id=charge.id)
    call("billing_patients_balance_list", patient_id=patient_id)
    call("billing_aging_list")
    call("billing_totals_list")
    plan_body = {
        "patient_id": str(patient_id),
        "program": "Sleep program",
        "total_cents": 30000,
        "installment_count": 3,
        "first_due_date": timezone.localdate().isoformat(),
    }
    plan = call("billing_installment_plans_create", body=call.body("PlanInputRequest", plan_body))
    call("billing_installment_plans_list")
    call("billing_installment_plans_retrieve", plan_id=plan.id)
    call(
        "billing_installment_plans_installments_outcome_create",
        plan_id=plan.id,
        number=1,
        body=call.body("OutcomeInputRequest", {"succeeded": False, "external_reference": "ch_1"}),
    )
    assert len(call("billing_installments_failed_list").results) == 1

    # The feed and the deliveries of what happened.
    feed = call("events_retrieve", types=["patient.created"])
    assert [event.type_ for event in feed.results].count("patient.created") == 2
    with as_tenant(org):
        event_services.webhook_fan_out(now=timezone.now())
    (delivery, *_) = call("webhook_endpoints_deliveries_list", endpoint_id=endpoint.id).results
    call("webhook_deliveries_replay_create", delivery_id=delivery.id)

    # Another organization's patient is not found through the client either.
    hidden = importlib.import_module(f"{PACKAGE}.api.patients.patients_retrieve").sync_detailed(
        client=partner, patient_id=other_patient.pk
    )
    assert int(hidden.status_code) == 404
    assert isinstance(hidden.parsed, call.models.Error)

    assert call.called == set(call.operations), sorted(set(call.operations) - call.called)
