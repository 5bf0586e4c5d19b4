"""Notes in the admin: written from the encounter's page, signed by the author, amended; refusals are messages
on the page and store nothing; other roles and organizations are kept out."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.clinical.models import ClinicalNote, NoteAddendum
from apps.clinical.services import encounter_create
from apps.organizations.roles import Role
from apps.patients.models import PHIAccessLog
from tests.conftest import add_member, as_tenant, logged_in, make_organization, phi_access_log
from tests.factories import PatientFactory

pytestmark = pytest.mark.usefixtures("committed")


@pytest.fixture
def clinic():
    org, org_b = make_organization("org-a"), make_organization("org-b")
    with as_tenant(org):
        patient = PatientFactory()
        encounter = encounter_create(
            patient=patient, encounter_type="outpatient", started_at=timezone.now() - dt.timedelta(hours=1)
        )
    reyes = add_member(org, Role.CLINICIAN, first_name="Dana", last_name="Reyes")
    return {"org": org, "org_b": org_b, "patient": patient, "encounter": encounter, "reyes": reyes}


def write_url(encounter, template="soap"):
    return reverse("admin:clinical_note_write", args=[encounter.pk, template])


SOAP_FORM = {
    "subjective": "Sleeping poorly.",
    "objective": "",
    "assessment": "GAD.",
    "plan": "CBT.",
    "diagnosis_codes": "F41.1",
}


def notes(org):
    with as_tenant(org):
        return list(ClinicalNote.objects.values_list("status", "sections", "diagnosis_codes"))


def test_a_clinician_writes_signs_and_amends_a_note_from_the_encounter_page(clinic):
    client = logged_in(clinic["reyes"])
    page = client.get(reverse("admin:clinical_encounter_change", args=[clinic["encounter"].pk]))
    assert page.status_code == 200
    assert write_url(clinic["encounter"]) in page.content.decode()
    assert "No notes yet." in page.content.decode()

    form = client.get(write_url(clinic["encounter"], "birp")).content.decode()
    assert [label in form for label in ("Behavior", "Intervention", "Response", "Plan")] == [True] * 4

    saved = client.post(write_url(clinic["encounter"]), SOAP_FORM)
    assert saved.status_code == 302
    with as_tenant(clinic["org"]):
        note = ClinicalNote.objects.get()
    assert saved["Location"] == reverse("admin:clinical_clinicalnote_change", args=[note.pk])
    shown = client.get(saved["Location"]).content.decode()
    assert "Sleeping poorly." in shown
    assert "F41.1 Generalized anxiety disorder" in shown
    assert "written by Dana Reyes" in shown
    assert reverse("admin:clinical_note_sign", args=[note.pk]) in shown
    assert phi_access_log(clinic["org"])[-1][1:3] == (PHIAccessLog.RecordType.CLINICAL_NOTE, 1)

    assert client.post(reverse("admin:clinical_note_sign", args=[note.pk])).status_code == 302
    assert notes(clinic["org"]) == [
        ("signed", {"subjective": "Sleeping poorly.", "objective": "", "assessment": "GAD.", "plan": "CBT."}, ["F41.1"])
    ]
    listing = client.get(reverse("admin:clinical_encounter_change", args=[clinic["encounter"].pk])).content.decode()
    assert "SOAP note</a> · Signed · Dana Reyes" in listing

    amended = client.post(reverse("admin:clinical_note_amend", args=[note.pk]), {"text": "Plan: CBT biweekly."})
    assert amended.status_code == 302
    shown = client.get(amended["Location"]).content.decode()
    assert "Addendum · Dana Reyes" in shown
    assert "Plan: CBT biweekly." in shown
    assert "Sleeping poorly." in shown


def test_signing_twice_or_someone_elses_note_is_a_message_and_changes_nothing(clinic):
    reyes = logged_in(clinic["reyes"])
    location = reyes.post(write_url(clinic["encounter"]), SOAP_FORM)["Location"]
    note_id = location.rstrip("/").split("/")[-2]
    other = logged_in(add_member(clinic["org"], Role.CLINICIAN))
    refused = other.post(reverse("admin:clinical_note_sign", args=[note_id]), follow=True)
    assert "Only the author of a note can sign or edit it." in refused.content.decode()
    assert [row[0] for row in notes(clinic["org"])] == ["draft"]
    reyes.post(reverse("admin:clinical_note_sign", args=[note_id]))
    again = reyes.post(reverse("admin:clinical_note_sign", args=[note_id]), follow=True)
    assert "This note is already signed: add an addendum instead." in again.content.decode()
    assert [row[0] for row in notes(clinic["org"])] == ["signed"]


def test_an_unknown_diagnosis_is_shown_on_its_field_and_nothing_is_stored(clinic):
    client = logged_in(clinic["reyes"])
    response = client.post(write_url(clinic["encounter"]), {**SOAP_FORM, "diagnosis_codes": "F41.1, Z99.99"})
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "diagnosis_codes": ["Not a code of the ICD-10-CM code set (e.g. F41.1)."]
    }
    assert notes(clinic["org"]) == []


def test_other_roles_and_organizations_are_kept_out(clinic):
    coach = logged_in(add_member(clinic["org"], Role.COACH))
    desk = logged_in(add_member(clinic["org"], Role.FRONT_DESK))
    for client in (coach, desk):
        assert client.post(write_url(clinic["encounter"]), SOAP_FORM).status_code == 403
    b_clinician = logged_in(add_member(clinic["org_b"], Role.CLINICIAN))
    assert b_clinician.post(write_url(clinic["encounter"]), SOAP_FORM).status_code == 404
    reyes_note = logged_in(clinic["reyes"]).post(write_url(clinic["encounter"]), SOAP_FORM)["Location"]
    note_id = reyes_note.rstrip("/").split("/")[-2]
    assert b_clinician.get(reverse("admin:clinical_clinicalnote_change", args=[note_id])).status_code in (302, 404)
    assert b_clinician.post(reverse("admin:clinical_note_sign", args=[note_id])).status_code == 404
    assert coach.get(reverse("admin:clinical_clinicalnote_change", args=[note_id])).status_code == 403
    assert [row[0] for row in notes(clinic["org"])] == ["draft"]
    with as_tenant(clinic["org"]):
        assert NoteAddendum.objects.count() == 0
