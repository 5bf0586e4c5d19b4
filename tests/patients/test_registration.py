"""Registration: MRNs from a per-organization sequence, duplicate MRNs and likely duplicate people as clear
errors (never a 500), and another organization's patients never counted."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from django.db import connection, connections

from apps.organizations.roles import Role
from apps.patients import services
from apps.patients.models import MRNCounter, Patient
from tests.conftest import add_member, api_client, as_tenant, issue_key, logged_in, make_organization
from tests.factories import PatientFactory

MATEO = {"given_name": "Mateo", "family_name": "Okafor", "date_of_birth": "1991-11-02"}
ADD_FORM = {
    "mrn": "",
    "status": "active",
    "given_name": "Mateo",
    "family_name": "Okafor",
    "date_of_birth": "1991-11-02",
    "sex_at_birth": "unknown",
    "country": "US",
    "consents-TOTAL_FORMS": "0",
    "consents-INITIAL_FORMS": "0",
}


def register(org, **fields):
    with as_tenant(org):
        return services.patient_create(**{**MATEO, "date_of_birth": date(1991, 11, 2), **fields})


def test_a_blank_mrn_takes_the_organizations_next_number_skipping_one_typed_by_hand(org_a, org_b):
    with as_tenant(org_a):
        PatientFactory(mrn="000002")

    mrns_a = [register(org_a, given_name=name).mrn for name in ("Ana", "Ben", "Cy")]
    mrn_b = register(org_b).mrn

    assert mrns_a == ["000001", "000003", "000004"]
    assert mrn_b == "000001"
    with as_tenant(org_a):
        assert list(MRNCounter.objects.values_list("last_number", flat=True)) == [4]
    with as_tenant(org_b):
        assert list(MRNCounter.objects.values_list("last_number", flat=True)) == [1]


def test_the_runtime_role_cannot_advance_another_organizations_counter(org_a, org_b):
    register(org_b)
    with as_tenant(org_a), connection.cursor() as cursor:
        cursor.execute("UPDATE patients_mrncounter SET last_number = 99")
        assert cursor.rowcount == 0
    with as_tenant(org_b):
        assert MRNCounter.objects.get().last_number == 1


@pytest.mark.usefixtures("committed")
def test_concurrent_registrations_never_draw_the_same_mrn():
    org = make_organization("org-a")
    start = threading.Barrier(8)
    drawn: list[str] = []
    failures: list[BaseException] = []

    def registration(number: int) -> None:
        try:
            start.wait(timeout=30)
            drawn.append(register(org, given_name=f"Twin{number}").mrn)
        except BaseException as error:  # reported below, with the thread's exception
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=registration, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    assert sorted(drawn) == [f"{n:06d}" for n in range(1, 9)]
    with as_tenant(org):
        assert Patient.objects.count() == 8


@pytest.mark.usefixtures("committed")
def test_api_registration_assigns_the_mrn_and_refuses_a_duplicate_mrn_naming_the_field():
    org_a = make_organization("org-a")
    client = api_client(issue_key(org_a))

    first = client.post("/api/v1/patients/", MATEO, content_type="application/json")
    taken = client.post(
        "/api/v1/patients/", {**MATEO, "given_name": "Lucía", "mrn": "000001"}, content_type="application/json"
    )

    assert (first.status_code, first.json()["mrn"]) == (201, "000001")
    assert taken.status_code == 400
    assert taken.json()["error"]["fields"] == {"mrn": [services.DUPLICATE_MRN]}
    with as_tenant(org_a):
        assert list(Patient.objects.values_list("given_name", flat=True)) == ["Mateo"]


@pytest.mark.usefixtures("committed")
def test_api_registration_of_the_same_name_and_birth_date_asks_to_confirm_but_not_across_organizations():
    org_a, org_b = make_organization("org-a"), make_organization("org-b")
    client_a, client_b = api_client(issue_key(org_a)), api_client(issue_key(org_b))
    assert client_a.post("/api/v1/patients/", MATEO, content_type="application/json").status_code == 201

    same_person = client_a.post(
        "/api/v1/patients/", {**MATEO, "family_name": "OKÁFOR "}, content_type="application/json"
    )
    other_clinic = client_b.post("/api/v1/patients/", MATEO, content_type="application/json")
    confirmed = client_a.post(
        "/api/v1/patients/", {**MATEO, "confirm_duplicate": True}, content_type="application/json"
    )

    assert same_person.status_code == 400
    assert same_person.json()["error"]["fields"] == {"confirm_duplicate": [services.LIKELY_DUPLICATE]}
    assert "OK" not in same_person.content.decode()
    assert other_clinic.status_code == 201
    assert (confirmed.status_code, confirmed.json()["mrn"]) == (201, "000002")
    with as_tenant(org_a):
        assert list(Patient.objects.order_by("mrn").values_list("mrn", flat=True)) == ["000001", "000002"]


def test_admin_add_form_assigns_the_mrn_and_shows_a_duplicate_mrn_as_a_form_error(org_a, org_b):
    with as_tenant(org_b):
        PatientFactory(mrn="HAR-1003")
    client = logged_in(add_member(org_a, Role.FRONT_DESK))

    created = client.post("/admin/patients/patient/add/", ADD_FORM)
    other_clinics_mrn = client.post(
        "/admin/patients/patient/add/", {**ADD_FORM, "mrn": "HAR-1003", "given_name": "Ana"}
    )
    duplicate = client.post("/admin/patients/patient/add/", {**ADD_FORM, "mrn": "000001", "given_name": "Ben"})

    assert created.status_code == 302
    assert other_clinics_mrn.status_code == 302
    assert duplicate.status_code == 200
    assert duplicate.context["adminform"].form.errors == {"mrn": [services.DUPLICATE_MRN]}
    with as_tenant(org_a):
        assert sorted(Patient.objects.values_list("mrn", "given_name")) == [("000001", "Mateo"), ("HAR-1003", "Ana")]


def test_admin_add_form_asks_to_confirm_the_same_name_and_birth_date_then_registers(org_a, org_b):
    with as_tenant(org_a):
        existing = PatientFactory(mrn="HAR-1003", **{**MATEO, "date_of_birth": date(1991, 11, 2)})
    with as_tenant(org_b):
        PatientFactory(mrn="B-7", given_name="Lucía", family_name="Reyes", date_of_birth=date(1988, 4, 9))
    client = logged_in(add_member(org_a, Role.FRONT_DESK))

    asked = client.post("/admin/patients/patient/add/", ADD_FORM)
    confirmed = client.post("/admin/patients/patient/add/", {**ADD_FORM, "confirm_duplicate": "on"})
    other_clinics_twin = client.post(
        "/admin/patients/patient/add/",
        {**ADD_FORM, "given_name": "Lucía", "family_name": "Reyes", "date_of_birth": "1988-04-09"},
    )

    assert asked.status_code == 200
    assert asked.context["adminform"].form.errors == {"confirm_duplicate": [services.LIKELY_DUPLICATE]}
    page = asked.content.decode()
    assert 'type="checkbox" name="confirm_duplicate"' in page
    assert f"Already registered: {existing}." in page
    assert confirmed.status_code == 302
    assert other_clinics_twin.status_code == 302
    with as_tenant(org_a):
        assert Patient.objects.filter(family_name="Okafor").count() == 2
        assert Patient.objects.filter(family_name="Reyes").count() == 1


def test_the_add_form_hides_the_confirmation_until_it_is_needed(org_a):
    client = logged_in(add_member(org_a, Role.FRONT_DESK))
    page = client.get("/admin/patients/patient/add/").content.decode()
    assert 'type="hidden" name="confirm_duplicate"' in page
    assert 'type="checkbox" name="confirm_duplicate"' not in page
