"""`Cache-Control: no-store` on every API response and every response to a staff session or a partner key."""

from __future__ import annotations

import uuid

from django.test import Client
from django.utils.cache import get_max_age

from apps.organizations.roles import Role
from tests.conftest import add_member, api_client, as_tenant, issue_key, logged_in
from tests.factories import PatientFactory


def cache_directives(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


def assert_not_stored(response) -> None:
    assert {"no-store", "no-cache", "private", "max-age=0", "must-revalidate"} <= cache_directives(response)
    assert get_max_age(response) == 0


def test_api_responses_with_patient_data_are_not_stored(org_a):
    key = issue_key(org_a, phi_access=True)
    with as_tenant(org_a):
        patient = PatientFactory()

    for response in (
        api_client(key).get("/api/v1/patients/"),
        api_client(key).get(f"/api/v1/patients/{patient.pk}/"),
        api_client(key).get(f"/api/v1/patients/{uuid.uuid4()}/"),
        logged_in(add_member(org_a, Role.CLINICIAN)).get("/api/v1/patients/"),
    ):
        assert response.status_code in (200, 404)
        assert_not_stored(response)


def test_unauthenticated_api_answers_are_not_stored_either(db):
    assert_not_stored(Client().get("/api/v1/patients/"))
    assert_not_stored(Client().get("/api/v1/schema/"))


def test_every_page_for_a_staff_session_is_not_stored(org_a):
    client = logged_in(add_member(org_a, Role.OWNER))
    with as_tenant(org_a):
        patient = PatientFactory()

    for url in ("/admin/", f"/admin/patients/patient/{patient.pk}/change/", "/admin/billing/ledgerentry/dashboard/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_not_stored(response)
