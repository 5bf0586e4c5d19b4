"""`Idempotency-Key` on every POST that creates data, not only money: replay, refusal, scope and PHI rules."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from apps.clinical.models import HealthEvent
from apps.organizations.models import IdempotencyRecord
from apps.organizations.roles import Role
from apps.patients.models import Patient
from tests.conftest import add_member, api_client, as_tenant, issue_key, logged_in, make_organization
from tests.factories import PatientFactory

PATIENTS = "/api/v1/patients/"


def register(client, key, mrn="MRN-1", **changes):
    body = {"mrn": mrn, "given_name": "Ada", "family_name": "Byron", "date_of_birth": "1990-12-10", **changes}
    return client.post(PATIENTS, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)


def patients(org):
    with as_tenant(org):
        return sorted(Patient.objects.values_list("mrn", flat=True))


def records(org, role=Role.OWNER):
    with as_tenant(org, role):
        return sorted(IdempotencyRecord.objects.values_list("actor", "key"))


@pytest.fixture
def clinics(org_a, org_b):
    return {
        "a": api_client(issue_key(org_a, phi_access=True)),
        "a2": api_client(issue_key(org_a, phi_access=True)),
        "b": api_client(issue_key(org_b, phi_access=True)),
    }


def test_a_retried_registration_creates_one_patient_and_replays_the_first_response(org_a, clinics):
    first = register(clinics["a"], "reg-1")
    retry = register(clinics["a"], "reg-1")

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert patients(org_a) == ["MRN-1"]


def test_the_same_key_with_another_body_is_refused_and_creates_nothing(org_a, clinics):
    assert register(clinics["a"], "reg-2").status_code == 201

    other = register(clinics["a"], "reg-2", mrn="MRN-2")

    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert patients(org_a) == ["MRN-1"]


def test_the_same_key_on_another_endpoint_is_refused(org_a, clinics):
    created = register(clinics["a"], "shared")
    patient_id = created.json()["id"]

    consent = clinics["a"].post(
        f"{PATIENTS}{patient_id}/consents/",
        {"consent_type": "treatment", "granted": True},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="shared",
    )

    assert consent.status_code == 422


def test_a_failed_request_keeps_no_record_and_its_key_can_be_used_again(org_a, clinics):
    bad = register(clinics["a"], "reg-3", date_of_birth="not a date")
    good = register(clinics["a"], "reg-3")

    assert (bad.status_code, good.status_code) == (400, 201)
    assert patients(org_a) == ["MRN-1"]
    assert [key for _, key in records(org_a)] == ["reg-3"]


def test_keys_are_scoped_to_the_organization_and_the_actor(org_a, org_b, clinics):
    a = register(clinics["a"], "same-key", mrn="A-1")
    other_actor = register(clinics["a2"], "same-key", mrn="A-2")
    other_org = register(clinics["b"], "same-key", mrn="B-1")

    assert (a.status_code, other_actor.status_code, other_org.status_code) == (201, 201, 201)
    assert patients(org_a) == ["A-1", "A-2"]
    assert patients(org_b) == ["B-1"]
    assert len(records(org_a)) == 2
    assert [key for _, key in records(org_b)] == ["same-key"]


MOOD = {"event_type": "mood", "event_subtype": "daily_checkin", "event_data": {"mood": "calm", "confidence": 6}}


def record_mood(client, patient, key, occurred_at):
    body = {**MOOD, "occurred_at": occurred_at.isoformat()}
    url = f"{PATIENTS}{patient.pk}/health-events/"
    return client.post(url, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_health_event_post_is_idempotent(org_a, org_b):
    with as_tenant(org_a):
        patient = PatientFactory()
    clinician = logged_in(add_member(org_a, Role.CLINICIAN))
    occurred_at = timezone.now() - dt.timedelta(minutes=5)

    first = record_mood(clinician, patient, "mood-1", occurred_at)
    retry = record_mood(clinician, patient, "mood-1", occurred_at)

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json()["id"] == first.json()["id"]
    with as_tenant(org_a):
        assert HealthEvent.objects.count() == 1
    with as_tenant(org_b):
        assert HealthEvent.objects.count() == 0


def test_a_coach_reads_no_record_holding_clinical_data(org_a):
    with as_tenant(org_a):
        patient = PatientFactory()
    clinician = logged_in(add_member(org_a, Role.CLINICIAN))
    coach = logged_in(add_member(org_a, Role.COACH))
    occurred_at = timezone.now() - dt.timedelta(minutes=5)

    assert record_mood(clinician, patient, "c-1", occurred_at).status_code == 201
    assert record_mood(coach, patient, "c-2", occurred_at).status_code == 201

    with as_tenant(org_a):
        classified = dict(IdempotencyRecord.objects.values_list("key", "data_classification"))
    assert classified == {"c-1": "CLINICAL_PHI", "c-2": "GENERAL_WELLNESS"}
    assert [key for _, key in records(org_a, Role.COACH)] == ["c-2"]


def test_every_post_that_creates_something_documents_the_header():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    creating = {
        (path, method)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if method == "post" and "201" in operation["responses"]
    }
    documented = {
        (path, method)
        for path, method in creating
        if any(
            p["in"] == "header" and p["name"] == "Idempotency-Key"
            for p in schema["paths"][path][method].get("parameters", [])
        )
    }

    assert len(creating) >= 15
    assert creating - documented == set()


@pytest.mark.usefixtures("committed")
def test_records_past_the_replay_window_are_purged_with_their_responses():
    org_a, org_b = make_organization("org-a"), make_organization("org-b")
    a, b = api_client(issue_key(org_a, phi_access=True)), api_client(issue_key(org_b, phi_access=True))
    assert register(a, "old").status_code == 201
    assert register(a, "new", mrn="MRN-2").status_code == 201
    assert register(b, "old").status_code == 201
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "UPDATE organizations_idempotencyrecord SET created_at = now() - interval '25 hours' WHERE key = 'old'"
        )

    out = StringIO()
    call_command("purge_expired_records", "--org", "org-a", stdout=out)
    assert "Retention organizations.idempotencyrecord: 24 hours after the request" in out.getvalue()
    assert "Would remove 1 organizations.idempotencyrecord record(s)" in out.getvalue()
    assert [key for _, key in records(org_a)] == ["new", "old"]

    call_command("purge_expired_records", "--org", "org-a", "--apply", stdout=StringIO())
    assert [key for _, key in records(org_a)] == ["new"]
    assert [key for _, key in records(org_b)] == ["old"]  # another organization: not in this run
    # The key is free again: a new request under it is a new request.
    assert register(a, "old", mrn="MRN-3").status_code == 201
    assert patients(org_a) == ["MRN-1", "MRN-2", "MRN-3"]
