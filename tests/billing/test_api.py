"""Billing API: scopes and roles, tenant isolation, idempotent money POSTs, bad input naming the field."""

import datetime as dt

import pytest

from apps.billing import services
from apps.billing.models import LedgerApplication, LedgerEntry, PaymentStatus
from apps.organizations.models import IdempotencyRecord
from apps.organizations.roles import Role
from tests.billing import factories as bf
from tests.billing.factories import post
from tests.conftest import add_member, api_client, as_key, as_tenant, issue_key, logged_in
from tests.factories import PatientFactory


@pytest.fixture
def setup(org_a, org_b):
    data = {}
    for org in (org_a, org_b):
        with as_tenant(org):
            patient = PatientFactory(mrn="SAME")
            charge = bf.charge(patient, 10_000, recorded_at=dt.datetime(2025, 1, 15, 12, tzinfo=dt.UTC))
        data[org.slug] = {
            "org": org,
            "patient": patient,
            "charge": charge,
            "key": issue_key(org, scopes=["billing:read", "billing:write"]),
        }
    return data


def payment_body(setup, amount=4_000):
    return {
        "patient_id": str(setup["org-a"]["patient"].pk),
        "amount_cents": amount,
        "allocations": [{"charge_id": str(setup["org-a"]["charge"].pk), "amount_cents": amount}],
        "metadata": {"method": "card"},
    }


def entry_count(org):
    with as_tenant(org):
        return LedgerEntry.objects.count(), LedgerApplication.objects.count()


def test_partner_lists_only_own_organization(setup):
    client = api_client(setup["org-a"]["key"])
    response = client.get("/api/v1/billing/entries/")
    assert response.status_code == 200
    assert [e["id"] for e in response.json()["results"]] == [str(setup["org-a"]["charge"].pk)]
    assert client.get(f"/api/v1/billing/entries/{setup['org-b']['charge'].pk}/").status_code == 404
    assert client.get(f"/api/v1/billing/patients/{setup['org-b']['patient'].pk}/balance/").status_code == 404


def test_partner_without_billing_scope_is_refused(setup):
    client = api_client(issue_key(setup["org-a"]["org"], scopes=["patients:read"]))
    assert client.get("/api/v1/billing/entries/").status_code == 403
    read_only = api_client(issue_key(setup["org-a"]["org"], scopes=["billing:read"]))
    assert post(read_only, "/api/v1/billing/payments/", payment_body(setup)).status_code == 403
    assert entry_count(setup["org-a"]["org"]) == (1, 0)


def test_coach_is_refused_and_clinician_cannot_write(setup):
    org = setup["org-a"]["org"]
    coach = logged_in(add_member(org, Role.COACH))
    assert coach.get("/api/v1/billing/entries/").status_code == 403
    clinician = logged_in(add_member(org, Role.CLINICIAN))
    assert clinician.get("/api/v1/billing/entries/").json()["results"] == []  # retail rows hidden by RLS
    assert post(clinician, "/api/v1/billing/payments/", payment_body(setup)).status_code == 403


def test_payment_posts_and_balance_reflects_it(setup):
    client = api_client(setup["org-a"]["key"])
    response = post(client, "/api/v1/billing/payments/", payment_body(setup))
    assert response.status_code == 201
    assert response.json()["amount_cents"] == 4_000
    balance = client.get(f"/api/v1/billing/patients/{setup['org-a']['patient'].pk}/balance/").json()
    assert balance == [{"currency": "USD", "insurance_pending": 0, "patient_due": 6_000, "credit": 0, "net": 6_000}]
    assert entry_count(setup["org-b"]["org"]) == (1, 0)


def test_same_idempotency_key_creates_one_entry(setup):
    client = api_client(setup["org-a"]["key"])
    first = post(client, "/api/v1/billing/payments/", payment_body(setup), key="pay-123")
    again = post(client, "/api/v1/billing/payments/", payment_body(setup), key="pay-123")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert entry_count(setup["org-a"]["org"]) == (2, 1)


def test_same_idempotency_key_with_other_body_is_422(setup):
    client = api_client(setup["org-a"]["key"])
    assert post(client, "/api/v1/billing/payments/", payment_body(setup), key="pay-9").status_code == 201
    other = post(client, "/api/v1/billing/payments/", payment_body(setup, 1_000), key="pay-9")
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert entry_count(setup["org-a"]["org"]) == (2, 1)


def test_idempotency_keys_are_per_organization(setup):
    a = post(api_client(setup["org-a"]["key"]), "/api/v1/billing/payments/", payment_body(setup), key="k1")
    body_b = {
        "patient_id": str(setup["org-b"]["patient"].pk),
        "amount_cents": 500,
        "allocations": [{"charge_id": str(setup["org-b"]["charge"].pk), "amount_cents": 500}],
    }
    b = post(api_client(setup["org-b"]["key"]), "/api/v1/billing/payments/", body_b, key="k1")
    assert (a.status_code, b.status_code) == (201, 201)
    with as_key(setup["org-a"]["org"], setup["org-a"]["key"]):
        assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["k1"]
    with as_key(setup["org-b"]["org"], setup["org-b"]["key"]):
        assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["k1"]


def test_charge_created_with_idempotency_key(setup):
    client = api_client(setup["org-a"]["key"])
    body = {
        "patient_id": str(setup["org-a"]["patient"].pk),
        "transaction_type": "clinical_service",
        "amount_cents": 15_000,
        "service_date": "2025-02-01",
        "metadata": {"cpt_code": "90837", "diagnosis_codes": ["F43.10"]},
    }
    first = post(client, "/api/v1/billing/charges/", body, key="chg-1")
    assert first.status_code == 201
    assert first.json()["payment_status"] == PaymentStatus.PATIENT_DUE
    assert post(client, "/api/v1/billing/charges/", body, key="chg-1").status_code == 201
    assert entry_count(setup["org-a"]["org"]) == (2, 0)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount_cents": 10.5}, "amount_cents"),
        ({"amount_cents": "100"}, "amount_cents"),
        ({"amount_cents": 0}, "amount_cents"),
        ({"amount_cents": -100}, "amount_cents"),
        ({"currency": "XXY"}, "currency"),
        ({"currency": "EUR"}, "currency"),
        ({"amount_cents": 20_000, "allocations": [{"amount_cents": 20_000}]}, "allocations"),
        ({"amount_cents": 12_000}, "amount_cents"),
        ({"patient_id": "not-a-uuid"}, "patient_id"),
    ],
)
def test_bad_payment_input_is_400_naming_the_field_and_stores_nothing(setup, change, field):
    body = payment_body(setup)
    if "allocations" in change:
        change = {
            **change,
            "allocations": [{"charge_id": str(setup["org-a"]["charge"].pk), **change["allocations"][0]}],
        }
    body.update(change)
    response = post(api_client(setup["org-a"]["key"]), "/api/v1/billing/payments/", body, key="bad-1")
    assert response.status_code == 400
    assert any(name.startswith(field) for name in response.json()["error"]["fields"])
    assert entry_count(setup["org-a"]["org"]) == (1, 0)
    with as_key(setup["org-a"]["org"], setup["org-a"]["key"]):
        assert IdempotencyRecord.objects.count() == 0


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("other clinic's charge", {"allocations[0].charge_id": ["Unknown charge."]}),
        ("a payment", {"allocations[0].charge_id": ["Unknown charge."]}),
        ("no such entry", {"allocations[0].charge_id": ["Unknown charge."]}),
        ("other clinic's patient", {"patient_id": ["Unknown patient."]}),
    ],
)
def test_payment_naming_a_row_it_cannot_use_is_400_on_that_input(setup, target, expected):
    a, b = setup["org-a"], setup["org-b"]
    with as_tenant(a["org"]):
        earlier = services.payment_post(
            patient=a["patient"], amount_cents=1_000, allow_credit=True, transaction_type="clinical_service"
        )
    body = payment_body(setup, amount=1_000)
    charge_ids = {
        "other clinic's charge": b["charge"].pk,
        "a payment": earlier.pk,
        "no such entry": "0198a1f0-0000-7000-8000-000000000000",
    }
    if target in charge_ids:
        body["allocations"][0]["charge_id"] = str(charge_ids[target])
    else:
        body["patient_id"] = str(b["patient"].pk)
    response = post(api_client(a["key"]), "/api/v1/billing/payments/", body)
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == expected
    assert entry_count(a["org"]) == (2, 0)
    assert entry_count(b["org"]) == (1, 0)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"metadata": {"cpt_code": "ABCDE", "diagnosis_codes": ["F43.10"]}}, "metadata.cpt_code"),
        ({"metadata": {"cpt_code": "90837", "diagnosis_codes": ["F4310X"]}}, "metadata.diagnosis_codes"),
        ({"currency": "usd"}, "currency"),
        ({"amount_cents": 99.99}, "amount_cents"),
        ({"transaction_type": "donation"}, "transaction_type"),
    ],
)
def test_bad_charge_input_is_400_naming_the_field(setup, change, field):
    body = {
        "patient_id": str(setup["org-a"]["patient"].pk),
        "transaction_type": "clinical_service",
        "amount_cents": 15_000,
        "metadata": {"cpt_code": "90837", "diagnosis_codes": ["F43.10"]},
        **change,
    }
    response = post(api_client(setup["org-a"]["key"]), "/api/v1/billing/charges/", body)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert entry_count(setup["org-a"]["org"]) == (1, 0)


def test_aging_and_totals_endpoints(setup):
    client = api_client(setup["org-a"]["key"])
    aging = client.get("/api/v1/billing/aging/?as_of=2025-03-01")
    assert aging.status_code == 200
    assert aging.json() == [
        {
            "currency": "USD",
            "buckets": {"not_due": 0, "0_30": 0, "31_60": 10_000, "61_90": 0, "90_plus": 0},
            "credit": 0,
            "total": 10_000,
        }
    ]
    assert client.get("/api/v1/billing/aging/?as_of=2999-01-01").status_code == 400
    totals = client.get("/api/v1/billing/totals/").json()
    assert totals == [
        {
            "transaction_type": "retail_product",
            "kind": "charge",
            "payment_status": "patient_due",
            "currency": "USD",
            "count": 1,
            "amount_cents": 10_000,
        }
    ]
