"""Billing requests with real commits: each request commits or rolls back on its own, as in production."""

import pytest

from apps.billing.models import LedgerApplication, LedgerEntry
from apps.organizations.models import IdempotencyRecord
from tests.billing import factories as bf
from tests.conftest import api_client, as_tenant, issue_key, make_organization
from tests.factories import PatientFactory

pytestmark = pytest.mark.usefixtures("committed")


@pytest.fixture
def clinics():
    data = {}
    for slug in ("org-a", "org-b"):
        org = make_organization(slug)
        with as_tenant(org):
            patient = PatientFactory(mrn="SAME")
            charge = bf.charge(patient, 10_000)
        data[slug] = {"org": org, "patient": patient, "charge": charge, "key": issue_key(org)}
    return data


def test_idempotent_payment_commits_once_and_failed_request_commits_nothing(clinics):
    a = clinics["org-a"]
    client = api_client(a["key"])
    body = {
        "patient_id": str(a["patient"].pk),
        "amount_cents": 2_500,
        "allocations": [{"charge_id": str(a["charge"].pk), "amount_cents": 2_500}],
    }
    first = client.post("/api/v1/billing/payments/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    again = client.post("/api/v1/billing/payments/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    too_much = {
        **body,
        "amount_cents": 9_000,
        "allocations": [{"charge_id": str(a["charge"].pk), "amount_cents": 9_000}],
    }
    refused = client.post(
        "/api/v1/billing/payments/", too_much, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k2"
    )
    assert (first.status_code, again.status_code, refused.status_code) == (201, 201, 400)
    assert again.json()["id"] == first.json()["id"]
    with as_tenant(a["org"]):
        assert LedgerEntry.objects.count() == 2
        assert LedgerApplication.objects.count() == 1
    with as_tenant(clinics["org-b"]["org"]):
        assert LedgerEntry.objects.count() == 1
    # Every organization's records, as the owner (no RLS) sees them: one, org A's, for the one successful key.
    assert list(IdempotencyRecord.objects.using("owner").values_list("organization_id", "key")) == [(a["org"].pk, "k")]


def test_partner_of_a_cannot_pay_b_charge(clinics):
    a, b = clinics["org-a"], clinics["org-b"]
    body = {
        "patient_id": str(a["patient"].pk),
        "amount_cents": 100,
        "allocations": [{"charge_id": str(b["charge"].pk), "amount_cents": 100}],
    }
    response = api_client(a["key"]).post("/api/v1/billing/payments/", body, content_type="application/json")
    assert response.status_code == 400
    assert "allocations[0].charge_id" in response.json()["error"]["fields"]
    with as_tenant(b["org"]):
        assert LedgerApplication.objects.count() == 0
    with as_tenant(a["org"]):
        assert LedgerEntry.objects.count() == 1
