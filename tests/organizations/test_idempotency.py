"""`Idempotency-Key` on every POST that creates data, not only money: replay, refusal, scope and PHI rules.

Real commits (no test transaction), so the owner connection can count every record whoever made it: the runtime
role sees only the records of the actor in its context.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from apps.clinical.models import HealthEvent
from apps.organizations.models import APIKey, IdempotencyRecord
from apps.organizations.roles import Role
from apps.patients.models import Patient
from tests.concurrency import owner_connection, wait_until_blocked
from tests.conftest import add_member, api_client, as_tenant, issue_key, logged_in, make_organization
from tests.factories import PatientFactory

pytestmark = pytest.mark.usefixtures("committed")

PATIENTS = "/api/v1/patients/"
MOOD = {"event_type": "mood", "event_subtype": "daily_checkin", "event_data": {"mood": "calm", "confidence": 6}}


def register(client, key, mrn="MRN-1", **changes):
    # One person per MRN: registering the same name and birth date again would be asked to confirm.
    body = {"mrn": mrn, "given_name": f"Ada {mrn}", "family_name": "Byron", "date_of_birth": "1990-12-10", **changes}
    return client.post(PATIENTS, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)


def record_mood(client, patient, key, occurred_at):
    body = {**MOOD, "occurred_at": occurred_at.isoformat()}
    url = f"{PATIENTS}{patient.pk}/health-events/"
    return client.post(url, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)


def patients(org):
    with as_tenant(org):
        return sorted(Patient.objects.values_list("mrn", flat=True))


def records(org):
    """(actor, key, classification) of every record of `org`, as the owner (no RLS) sees them."""
    return sorted(
        IdempotencyRecord.objects.using("owner")
        .filter(organization=org)
        .values_list("actor", "key", "data_classification")
    )


def keys(org):
    return [key for _, key, _ in records(org)]


def visible_keys(org, role, **actor):
    """The keys of the records the runtime role shows to this actor."""
    with as_tenant(org, role, **actor):
        return sorted(IdempotencyRecord.objects.values_list("key", flat=True))


@pytest.fixture
def clinics():
    org_a, org_b = make_organization("org-a"), make_organization("org-b")
    return {
        "org_a": org_a,
        "org_b": org_b,
        "a": api_client(issue_key(org_a, phi_access=True)),
        "a2": api_client(issue_key(org_a, phi_access=True)),
        "b": api_client(issue_key(org_b, phi_access=True)),
    }


def test_a_retried_registration_creates_one_patient_and_replays_the_first_response(clinics):
    first = register(clinics["a"], "reg-1")
    retry = register(clinics["a"], "reg-1")

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert patients(clinics["org_a"]) == ["MRN-1"]
    assert patients(clinics["org_b"]) == []


def test_the_same_key_with_another_body_is_refused_and_creates_nothing(clinics):
    assert register(clinics["a"], "reg-2").status_code == 201

    other = register(clinics["a"], "reg-2", mrn="MRN-2")

    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert patients(clinics["org_a"]) == ["MRN-1"]


def test_the_same_key_on_another_endpoint_is_refused(clinics):
    patient_id = register(clinics["a"], "shared").json()["id"]

    consent = clinics["a"].post(
        f"{PATIENTS}{patient_id}/consents/",
        {"consent_type": "treatment", "granted": True},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="shared",
    )

    assert consent.status_code == 422


def test_a_failed_request_keeps_no_record_and_its_key_can_be_used_again(clinics):
    bad = register(clinics["a"], "reg-3", date_of_birth="not a date")
    good = register(clinics["a"], "reg-3")

    assert (bad.status_code, good.status_code) == (400, 201)
    assert patients(clinics["org_a"]) == ["MRN-1"]
    assert keys(clinics["org_a"]) == ["reg-3"]


def test_keys_are_scoped_to_the_organization_and_the_actor(clinics):
    a = register(clinics["a"], "same-key", mrn="A-1")
    other_actor = register(clinics["a2"], "same-key", mrn="A-2")
    other_org = register(clinics["b"], "same-key", mrn="B-1")

    assert (a.status_code, other_actor.status_code, other_org.status_code) == (201, 201, 201)
    assert patients(clinics["org_a"]) == ["A-1", "A-2"]
    assert patients(clinics["org_b"]) == ["B-1"]
    assert keys(clinics["org_a"]) == ["same-key", "same-key"]
    assert keys(clinics["org_b"]) == ["same-key"]


def test_a_health_event_post_is_idempotent(clinics):
    org_a = clinics["org_a"]
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
    with as_tenant(clinics["org_b"]):
        assert HealthEvent.objects.count() == 0


def test_a_record_is_shown_only_to_its_actor_and_classified_by_what_the_actor_may_read(clinics):
    org_a = clinics["org_a"]
    with as_tenant(org_a):
        patient = PatientFactory()
    clinician_user = add_member(org_a, Role.CLINICIAN)
    coach_user, other_coach_user = add_member(org_a, Role.COACH), add_member(org_a, Role.COACH)
    occurred_at = timezone.now() - dt.timedelta(minutes=5)

    assert record_mood(logged_in(clinician_user), patient, "c-1", occurred_at).status_code == 201
    assert record_mood(logged_in(coach_user), patient, "c-2", occurred_at).status_code == 201

    assert records(org_a) == [
        (f"user:{clinician_user.pk}", "c-1", "CLINICAL_PHI"),
        (f"user:{coach_user.pk}", "c-2", "GENERAL_WELLNESS"),
    ]
    assert visible_keys(org_a, Role.CLINICIAN, user_id=clinician_user.pk) == ["c-1"]
    assert visible_keys(org_a, Role.COACH, user_id=coach_user.pk) == ["c-2"]
    assert visible_keys(org_a, Role.COACH, user_id=other_coach_user.pk) == []
    assert visible_keys(org_a, Role.OWNER) == []  # no actor, no record
    assert visible_keys(clinics["org_b"], Role.CLINICIAN, user_id=clinician_user.pk) == []


def test_a_retry_after_the_caller_lost_phi_access_is_refused_not_replayed(clinics):
    org_a = clinics["org_a"]
    assert register(clinics["a"], "reg-phi").status_code == 201
    APIKey.objects.using("owner").filter(organization=org_a).update(phi_access=False)

    retry = register(clinics["a"], "reg-phi")

    assert retry.status_code == 422
    assert retry.json()["error"]["code"] == "idempotency_key_unavailable"
    assert "Ada" not in retry.content.decode()
    assert patients(org_a) == ["MRN-1"]


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
    # Registering a webhook endpoint answers its secret once: a replay store would keep the secret in plain text,
    # so that one create takes no Idempotency-Key (a duplicate endpoint is paused by its owner instead).
    assert creating - documented == {("/api/v1/webhook-endpoints/", "post")}


def test_records_past_the_replay_window_are_purged_with_their_responses(clinics):
    org_a, org_b = clinics["org_a"], clinics["org_b"]
    assert register(clinics["a"], "old").status_code == 201
    assert register(clinics["a"], "new", mrn="MRN-2").status_code == 201
    assert register(clinics["b"], "old").status_code == 201
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "UPDATE organizations_idempotencyrecord SET created_at = now() - interval '25 hours' WHERE key = 'old'"
        )

    out = StringIO()
    call_command("purge_expired_records", "--org", "org-a", stdout=out)
    assert "Retention organizations.idempotencyrecord: 24 hours after the request" in out.getvalue()
    assert "Would remove 1 organizations.idempotencyrecord record(s)" in out.getvalue()
    assert keys(org_a) == ["new", "old"]

    call_command("purge_expired_records", "--org", "org-a", "--apply", stdout=StringIO())
    assert keys(org_a) == ["new"]
    assert keys(org_b) == ["old"]  # another organization: not in this run
    # The key is free again: a new request under it is a new request.
    assert register(clinics["a"], "old", mrn="MRN-3").status_code == 201
    assert patients(org_a) == ["MRN-1", "MRN-2", "MRN-3"]


def test_a_retry_sent_while_the_first_request_runs_waits_and_gets_its_response(clinics):
    """The first request is played by another transaction: it holds the record uncommitted (as a running
    request does) until the retry is seen waiting on it, then commits it with its response."""
    org_a = clinics["org_a"]
    body = {"mrn": "MRN-9", "given_name": "Ada", "family_name": "Byron", "date_of_birth": "1990-12-10"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    fingerprint = hashlib.sha256(f"POST {PATIENTS}\n{canonical}".encode()).hexdigest()
    key_id = APIKey.objects.using("owner").filter(organization=org_a).order_by("created_at").first().pk
    responses = []

    def retry() -> None:
        try:
            responses.append(register(clinics["a"], "slow", **body))
        finally:
            connections.close_all()  # this thread's own connection

    with owner_connection() as holder, owner_connection() as watcher:
        watcher.autocommit = True
        holder.execute(
            "INSERT INTO organizations_idempotencyrecord (id, created_at, updated_at, organization_id, "
            "data_classification, actor, key, fingerprint, response_status, response_body) "
            "VALUES (gen_random_uuid(), now(), now(), %s, 'CLINICAL_PHI', %s, 'slow', %s, 201, %s)",
            [org_a.pk, f"key:{key_id}", fingerprint, json.dumps({"id": "first", "mrn": "MRN-9"})],
        )
        thread = threading.Thread(target=retry)
        thread.start()
        try:
            wait_until_blocked(watcher, holder.info.backend_pid)
        finally:
            holder.commit()
            thread.join(timeout=60)

    assert len(responses) == 1
    assert responses[0].status_code == 201
    assert responses[0]["Idempotent-Replayed"] == "true"
    assert responses[0].json() == {"id": "first", "mrn": "MRN-9"}
    assert patients(org_a) == []  # the retry created nothing
