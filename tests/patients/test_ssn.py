"""SSNs are masked for every role on every page and answer; revealing one is a separate, logged POST."""

from __future__ import annotations

import pytest

from apps.organizations.roles import Role
from apps.patients.models import Patient
from apps.patients.permissions import PATIENT
from tests.conftest import add_member, api_client, as_tenant, issue_key, logged_in, phi_access_log
from tests.factories import PatientFactory

SSN = "078-05-1121"
DIGITS = (b"078-05-1121", b"078051121", b"078-05")


def _patients(org_a, org_b) -> tuple[Patient, Patient]:
    with as_tenant(org_a):
        patient = PatientFactory(ssn=SSN)
    with as_tenant(org_b):
        other = PatientFactory(ssn="219-09-9999")
    return patient, other


def test_the_reveal_roles_are_declared_once():
    assert PATIENT.roles("reveal_ssn") == frozenset({"owner", "billing", "front_desk"})


@pytest.mark.parametrize("role", [Role.COACH, Role.BILLING, Role.CLINICIAN, Role.OWNER, Role.FRONT_DESK])
def test_every_role_sees_only_the_masked_ssn_on_the_patient_page_and_in_the_api(org_a, org_b, role):
    patient, _ = _patients(org_a, org_b)
    client = logged_in(add_member(org_a, role))
    page = client.get(f"/admin/patients/patient/{patient.pk}/demographics/")
    detail = client.get(f"/api/v1/patients/{patient.pk}/")
    listed = client.get("/api/v1/patients/")
    for answer in (page, detail, listed):
        assert answer.status_code == 200
        assert b"***-**-1121" in answer.content
        for digits in DIGITS:
            assert digits not in answer.content
        assert b"9999" not in answer.content
    assert phi_access_log(org_b) == []


@pytest.mark.parametrize("role", [Role.OWNER, Role.BILLING, Role.FRONT_DESK])
def test_a_permitted_role_reveals_the_ssn_with_a_post_logged_once(org_a, org_b, role):
    patient, other = _patients(org_a, org_b)
    user = add_member(org_a, role)
    client = logged_in(user)
    path = f"/api/v1/patients/{patient.pk}/ssn/reveal/"
    assert client.get(path).status_code == 405
    answer = client.post(path)
    assert answer.status_code == 200
    assert answer.json() == {"ssn": SSN}
    assert "no-store" in answer["Cache-Control"]
    assert [row for row in phi_access_log(org_a) if row[1] == "ssn"] == [(patient.pk, "ssn", 1, path)]
    # Another organization's patient is absent, and nothing is logged for it.
    assert client.post(f"/api/v1/patients/{other.pk}/ssn/reveal/").status_code == 404
    assert phi_access_log(org_b) == []


def test_the_admin_page_offers_a_reveal_button_that_posts_and_logs(org_a, org_b):
    patient, other = _patients(org_a, org_b)
    client = logged_in(add_member(org_a, Role.BILLING))
    page = client.get(f"/admin/patients/patient/{patient.pk}/demographics/")
    reveal = f"/admin/patients/patient/{patient.pk}/ssn/reveal/"
    assert f'formaction="{reveal}"'.encode() in page.content
    assert client.get(reveal).status_code == 405
    shown = client.post(reveal)
    assert shown.status_code == 200
    assert SSN.encode() in shown.content
    assert "no-store" in shown["Cache-Control"]
    assert phi_access_log(org_a)[-1] == (patient.pk, "ssn", 1, reveal)
    assert client.post(f"/admin/patients/patient/{other.pk}/ssn/reveal/").status_code == 404
    assert phi_access_log(org_b) == []


@pytest.mark.parametrize("role", [Role.COACH, Role.CLINICIAN])
def test_roles_outside_the_reveal_set_are_refused_and_nothing_is_logged(org_a, org_b, role):
    patient, _ = _patients(org_a, org_b)
    client = logged_in(add_member(org_a, role))
    page = client.get(f"/admin/patients/patient/{patient.pk}/demographics/")
    assert b"/ssn/reveal/" not in page.content
    before = phi_access_log(org_a)
    api = client.post(f"/api/v1/patients/{patient.pk}/ssn/reveal/")
    assert api.status_code == 403
    assert SSN.encode() not in api.content
    admin_reveal = client.post(f"/admin/patients/patient/{patient.pk}/ssn/reveal/")
    assert admin_reveal.status_code == 403
    assert SSN.encode() not in admin_reveal.content
    assert phi_access_log(org_a) == before


def test_a_partner_key_needs_phi_access_to_reveal(org_a, org_b):
    patient, _ = _patients(org_a, org_b)
    path = f"/api/v1/patients/{patient.pk}/ssn/reveal/"
    refused = api_client(issue_key(org_a, phi_access=False)).post(path)
    assert refused.status_code == 403
    assert SSN.encode() not in refused.content
    assert phi_access_log(org_a) == []
    allowed = api_client(issue_key(org_a, phi_access=True)).post(path)
    assert allowed.status_code == 200
    assert allowed.json() == {"ssn": SSN}
    assert phi_access_log(org_a) == [(patient.pk, "ssn", 1, path)]
    assert phi_access_log(org_b) == []


@pytest.mark.parametrize("role", [Role.COACH, Role.BILLING, Role.FRONT_DESK])
def test_the_change_history_and_historical_versions_show_no_ssn(org_a, org_b, role):
    patient, _ = _patients(org_a, org_b)
    with as_tenant(org_a):
        version = patient.history.get()
    client = logged_in(add_member(org_a, role))
    for path in (
        f"/admin/patients/patient/{patient.pk}/history/",
        f"/admin/patients/patient/{patient.pk}/history/{version.history_id}/",
    ):
        page = client.get(path)
        assert page.status_code == 200
        for digits in DIGITS:
            assert digits not in page.content
