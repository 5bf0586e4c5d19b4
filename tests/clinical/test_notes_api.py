"""The notes API end to end (real commits): write, read (logged as a PHI read), sign, amend; refusals name the
problem and store nothing; another organization, a coach and partner keys without PHI get nothing."""

import datetime as dt

import pytest
from django.utils import timezone

from apps.clinical.models import ClinicalNote, NoteAddendum
from apps.clinical.services import encounter_create
from apps.organizations.roles import Role
from apps.patients.models import PHIAccessLog
from tests.conftest import add_member, api_client, as_tenant, issue_key, logged_in, make_organization, phi_access_log
from tests.factories import PatientFactory

pytestmark = pytest.mark.usefixtures("committed")

SOAP = {"subjective": "Sleeping poorly.", "objective": "Calm.", "assessment": "GAD.", "plan": "CBT weekly."}


@pytest.fixture
def clinics():
    data = {}
    for slug in ("org-a", "org-b"):
        org = make_organization(slug)
        with as_tenant(org):
            patient = PatientFactory()
            encounter = encounter_create(
                patient=patient, encounter_type="outpatient", started_at=timezone.now() - dt.timedelta(hours=1)
            )
        data[slug] = {"org": org, "patient": patient, "encounter": encounter}
    data["reyes"] = add_member(data["org-a"]["org"], Role.CLINICIAN, first_name="Dana", last_name="Reyes")
    return data


def post_note(client, encounter, **overrides):
    body = {"template": "soap", "sections": SOAP, "diagnosis_codes": ["F41.1"], **overrides}
    return client.post(f"/api/v1/encounters/{encounter.pk}/notes/", body, content_type="application/json")


def counts(org):
    with as_tenant(org):
        return (
            ClinicalNote.objects.count(),
            ClinicalNote.objects.filter(status="signed").count(),
            NoteAddendum.objects.count(),
        )


def test_a_clinician_writes_signs_and_amends_a_note(clinics):
    a = clinics["org-a"]
    reyes = logged_in(clinics["reyes"])
    created = post_note(reyes, a["encounter"])
    assert created.status_code == 201, created.json()
    note = created.json()
    assert note["status"] == "draft"
    assert note["author"] == {"id": clinics["reyes"].pk, "name": "Dana Reyes"}
    assert note["encounter_id"] == str(a["encounter"].pk)
    assert note["sections"][0] == {"key": "subjective", "heading": "Subjective", "text": "Sleeping poorly."}
    assert [s["heading"] for s in note["sections"]] == ["Subjective", "Objective", "Assessment", "Plan"]
    assert note["diagnoses"] == [{"code": "F41.1", "description": "Generalized anxiety disorder"}]

    signed = reyes.post(f"/api/v1/notes/{note['id']}/sign/")
    assert signed.status_code == 200
    assert signed.json()["status"] == "signed"
    assert signed.json()["signed_at"] is not None

    amended = reyes.post(
        f"/api/v1/notes/{note['id']}/addenda/", {"text": "Plan: CBT biweekly."}, content_type="application/json"
    )
    assert amended.status_code == 201
    assert amended.json()["sections"] == signed.json()["sections"]
    assert [(x["text"], x["author"]["name"]) for x in amended.json()["addenda"]] == [
        ("Plan: CBT biweekly.", "Dana Reyes")
    ]

    listed = reyes.get(f"/api/v1/encounters/{a['encounter'].pk}/notes/")
    assert [n["id"] for n in listed.json()["results"]] == [note["id"]]
    assert reyes.get(f"/api/v1/notes/{note['id']}/").json()["addenda"][0]["text"] == "Plan: CBT biweekly."
    assert counts(a["org"]) == (1, 1, 1)


def test_reading_a_note_is_logged_as_a_phi_read(clinics):
    a = clinics["org-a"]
    reyes = logged_in(clinics["reyes"])
    note_id = post_note(reyes, a["encounter"]).json()["id"]
    before = len(phi_access_log(a["org"]))
    assert reyes.get(f"/api/v1/notes/{note_id}/").status_code == 200
    log = phi_access_log(a["org"])
    assert log[before:] == [(a["patient"].pk, PHIAccessLog.RecordType.CLINICAL_NOTE, 1, f"/api/v1/notes/{note_id}/")]


def test_signing_someone_elses_note_is_a_400_naming_the_author_and_changes_nothing(clinics):
    a = clinics["org-a"]
    note_id = post_note(logged_in(clinics["reyes"]), a["encounter"]).json()["id"]
    other = logged_in(add_member(a["org"], Role.CLINICIAN))
    response = other.post(f"/api/v1/notes/{note_id}/sign/")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"author": ["Only the author of a note can sign or edit it."]}
    assert counts(a["org"]) == (1, 0, 0)


def test_signing_a_signed_note_twice_is_a_400_naming_the_status(clinics):
    a = clinics["org-a"]
    reyes = logged_in(clinics["reyes"])
    note_id = post_note(reyes, a["encounter"]).json()["id"]
    assert reyes.post(f"/api/v1/notes/{note_id}/sign/").status_code == 200
    with as_tenant(a["org"]):
        signed_at = ClinicalNote.objects.get(pk=note_id).signed_at
    response = reyes.post(f"/api/v1/notes/{note_id}/sign/")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"status": ["This note is already signed: add an addendum instead."]}
    with as_tenant(a["org"]):
        assert ClinicalNote.objects.get(pk=note_id).signed_at == signed_at


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"diagnosis_codes": ["F41.1", "Z99.99"]}, "diagnosis_codes[1]"),
        ({"template": "narrative"}, "template"),
        ({"sections": {"subjective": "x", "vibes": "y"}}, "sections.vibes"),
        ({"sections": {"subjective": ""}}, "sections"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(clinics, overrides, field):
    a = clinics["org-a"]
    response = post_note(logged_in(clinics["reyes"]), a["encounter"], **overrides)
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
    assert "Z99.99" not in response.text
    assert counts(a["org"]) == (0, 0, 0)


def test_another_organization_can_neither_see_nor_sign_nor_amend_a_note(clinics):
    a, b = clinics["org-a"], clinics["org-b"]
    reyes = logged_in(clinics["reyes"])
    note_id = post_note(reyes, a["encounter"]).json()["id"]
    b_clinician = logged_in(add_member(b["org"], Role.CLINICIAN))
    assert b_clinician.get(f"/api/v1/notes/{note_id}/").status_code == 404
    assert b_clinician.get(f"/api/v1/encounters/{a['encounter'].pk}/notes/").status_code == 404
    assert b_clinician.post(f"/api/v1/notes/{note_id}/sign/").status_code == 404
    assert post_note(b_clinician, a["encounter"]).status_code == 404
    reyes.post(f"/api/v1/notes/{note_id}/sign/")
    amend = b_clinician.post(f"/api/v1/notes/{note_id}/addenda/", {"text": "x"}, content_type="application/json")
    assert amend.status_code == 404
    assert counts(a["org"]) == (1, 1, 0)
    assert counts(b["org"]) == (0, 0, 0)


def test_a_coach_and_keys_without_phi_get_nothing(clinics):
    a = clinics["org-a"]
    note_id = post_note(logged_in(clinics["reyes"]), a["encounter"]).json()["id"]
    coach = logged_in(add_member(a["org"], Role.COACH))
    assert coach.get(f"/api/v1/notes/{note_id}/").status_code == 403
    assert coach.get(f"/api/v1/encounters/{a['encounter'].pk}/notes/").status_code == 403
    assert post_note(coach, a["encounter"]).status_code == 403
    assert coach.post(f"/api/v1/notes/{note_id}/sign/").status_code == 403
    no_phi = api_client(issue_key(a["org"], scopes=["clinical:read", "clinical:write"], phi_access=False))
    assert no_phi.get(f"/api/v1/notes/{note_id}/").status_code == 404
    assert no_phi.post(f"/api/v1/notes/{note_id}/sign/").status_code == 403
    with_phi = api_client(issue_key(a["org"], scopes=["clinical:read"], phi_access=True))
    assert with_phi.get(f"/api/v1/notes/{note_id}/").json()["id"] == note_id
    assert counts(a["org"]) == (1, 0, 0)


def test_the_openapi_schema_documents_the_notes_endpoints(client):
    paths = client.get("/api/v1/schema/?format=json").json()["paths"]
    assert set(paths["/api/v1/encounters/{encounter_id}/notes/"]) == {"get", "post"}
    assert set(paths["/api/v1/notes/{note_id}/"]) == {"get"}
    assert set(paths["/api/v1/notes/{note_id}/sign/"]) == {"post"}
    assert set(paths["/api/v1/notes/{note_id}/addenda/"]) == {"post"}
