"""One way to name a patient: *Family, Given · date of birth · MRN*, wherever staff pick or read one."""

from __future__ import annotations

from datetime import date

from django.urls import reverse

from apps.organizations.roles import Role
from apps.patients import services
from tests.conftest import add_member, as_tenant, logged_in, phi_access_log
from tests.factories import PatientFactory

OKAFOR = {"mrn": "HAR-1003", "given_name": "Mateo", "family_name": "Okafor", "date_of_birth": date(1991, 11, 2)}
NAMED = "Okafor, Mateo · 11/02/1991 · HAR-1003"


def test_a_patient_is_named_by_family_and_given_name_birth_date_and_mrn(org_a):
    with as_tenant(org_a):
        patient = PatientFactory(**OKAFOR)
    assert patient.display_name == NAMED
    assert str(patient) == NAMED


def test_lists_pickers_titles_and_documents_name_the_patient_and_never_another_clinics(org_a, org_b):
    with as_tenant(org_a):
        patient = PatientFactory(**OKAFOR)
        services.consent_record(patient=patient, consent_type="treatment", granted=True)
    with as_tenant(org_b):
        twin = PatientFactory(**{**OKAFOR, "mrn": "B-1003"})
        services.consent_record(patient=twin, consent_type="treatment", granted=True)
    front_desk = logged_in(add_member(org_a, Role.FRONT_DESK))
    billing = logged_in(add_member(org_a, Role.BILLING))

    consents = front_desk.get("/admin/patients/consent/").content.decode()
    picker = front_desk.get(
        "/admin/autocomplete/",
        {"app_label": "clinical", "model_name": "encounter", "field_name": "patient", "term": "Okafor"},
    ).json()
    change_page = front_desk.get(f"/admin/patients/patient/{patient.pk}/demographics/").content.decode()
    chart = front_desk.get(f"/admin/patients/patient/{patient.pk}/change/").content.decode()
    ledger = billing.get(reverse("admin:billing_patient_ledger", args=[patient.pk])).content.decode()
    superbill = billing.get(reverse("admin:billing_superbill", args=[patient.pk])).content.decode()

    assert NAMED in consents
    assert [row["text"] for row in picker["results"]] == [NAMED]
    assert f"<title>{NAMED} | Change patient" in change_page
    assert f"<title>{NAMED} | Chart" in chart
    assert f"<title>Ledger of {NAMED} |" in ledger
    assert NAMED in superbill
    for page in (consents, change_page, chart, ledger, superbill):
        assert "B-1003" not in page
        assert "Patient HAR-1003" not in page


def test_a_picker_showing_patients_is_logged_as_a_read_of_them(org_a, org_b):
    with as_tenant(org_a):
        patient = PatientFactory(**OKAFOR)
        PatientFactory(mrn="HAR-2001", given_name="Ana", family_name="Lindqvist")
    with as_tenant(org_b):
        PatientFactory(**{**OKAFOR, "mrn": "B-1003"})
    client = logged_in(add_member(org_a, Role.FRONT_DESK))

    picker = client.get(
        "/admin/autocomplete/",
        {"app_label": "clinical", "model_name": "encounter", "field_name": "patient", "term": "Okafor"},
    )

    assert [row["text"] for row in picker.json()["results"]] == [NAMED]
    assert phi_access_log(org_a) == [(patient.pk, "patient", 1, "/admin/autocomplete/")]
    assert phi_access_log(org_b) == []
