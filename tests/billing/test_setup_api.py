"""Payers, insurance policies, the billing provider, refunds and credit application through the API."""

import datetime as dt

import pytest

from apps.billing import selectors, services
from apps.billing.models import BillingProvider, InsurancePolicy, LedgerApplication, LedgerEntry, Payer, PaymentStatus
from apps.organizations.roles import Role
from tests.billing import factories as bf
from tests.billing.factories import post
from tests.conftest import add_member, api_client, as_tenant, issue_key, logged_in
from tests.factories import PatientFactory


@pytest.fixture
def clinics(org_a, org_b):
    data = {}
    for org in (org_a, org_b):
        with as_tenant(org):
            patient = PatientFactory(mrn="SAME")
            payer = bf.payer()
        data[org.slug] = {
            "org": org,
            "patient": patient,
            "payer": payer,
            "client": api_client(issue_key(org, scopes=["billing:read", "billing:write"])),
        }
    return data


def policy_body(clinic, **change):
    return {
        "patient_id": str(clinic["patient"].pk),
        "payer": str(clinic["payer"].pk),
        "member_id": "XJ1234567",
        "group_number": "G100",
        "address_line1": "12 Elm Street",
        "city": "Portland",
        "state": "OR",
        "postal_code": "97201",
        **change,
    }


PROVIDER = bf.PROVIDER_FIELDS


def test_payers_are_listed_and_created_per_organization(clinics):
    a, b = clinics["org-a"], clinics["org-b"]
    created = post(a["client"], "/api/v1/billing/payers/", {"name": "Blue Shield", "payer_id": "BS001"})
    assert created.status_code == 201
    names = [p["name"] for p in a["client"].get("/api/v1/billing/payers/").json()["results"]]
    assert names == ["Acme Health", "Blue Shield"]
    assert a["client"].get(f"/api/v1/billing/payers/{b['payer'].pk}/").status_code == 404
    duplicate = post(a["client"], "/api/v1/billing/payers/", {"name": "Other", "payer_id": "BS001"})
    assert duplicate.status_code == 400
    bad = post(a["client"], "/api/v1/billing/payers/", {"name": "Bad", "payer_id": "B*"})
    assert bad.status_code == 400
    assert "payer_id" in bad.json()["error"]["fields"]
    with as_tenant(a["org"]):
        assert Payer.objects.count() == 2
    with as_tenant(b["org"]):
        assert list(Payer.objects.values_list("payer_id", flat=True)) == ["ACME1"]


def test_policy_member_id_is_write_only_and_masked(clinics):
    a = clinics["org-a"]
    response = post(a["client"], "/api/v1/billing/insurance-policies/", policy_body(a))
    assert response.status_code == 201
    body = response.json()
    assert "member_id" not in body
    assert body["member_id_masked"] == "*****4567"
    assert "XJ1234567" not in response.content.decode()
    listing = a["client"].get(f"/api/v1/billing/insurance-policies/?patient={a['patient'].pk}")
    assert "XJ1234567" not in listing.content.decode()
    assert [p["member_id_masked"] for p in listing.json()["results"]] == ["*****4567"]
    with as_tenant(a["org"]):
        assert InsurancePolicy.objects.get().member_id == "XJ1234567"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"member_id": "XJ-12"}, "member_id"),
        ({"state": "Or"}, "state"),
        ({"postal_code": "9720"}, "postal_code"),
        ({"subscriber_relationship": "01"}, "subscriber_family_name"),
        ({"priority": "Z"}, "priority"),
        ({"payer": "00000000-0000-0000-0000-000000000000"}, "payer"),
    ],
)
def test_bad_policy_input_is_400_naming_the_field(clinics, change, field):
    a = clinics["org-a"]
    response = post(a["client"], "/api/v1/billing/insurance-policies/", policy_body(a, **change))
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    with as_tenant(a["org"]):
        assert InsurancePolicy.objects.count() == 0


def test_policy_for_other_organizations_patient_or_payer_is_refused(clinics):
    a, b = clinics["org-a"], clinics["org-b"]
    other_patient = post(
        a["client"], "/api/v1/billing/insurance-policies/", policy_body(a, patient_id=str(b["patient"].pk))
    )
    other_payer = post(a["client"], "/api/v1/billing/insurance-policies/", policy_body(a, payer=str(b["payer"].pk)))
    assert (other_patient.status_code, other_payer.status_code) == (400, 400)
    assert "patient_id" in other_patient.json()["error"]["fields"]
    assert "payer" in other_payer.json()["error"]["fields"]
    for org in (a["org"], b["org"]):
        with as_tenant(org):
            assert InsurancePolicy.objects.count() == 0


def test_billing_provider_put_and_get_with_npi_check_digit(clinics):
    a, b = clinics["org-a"], clinics["org-b"]
    assert a["client"].get("/api/v1/billing/provider/").status_code == 404
    bad = a["client"].put(
        "/api/v1/billing/provider/", {**PROVIDER, "npi": "1234567890"}, content_type="application/json"
    )
    assert bad.status_code == 400
    assert "npi" in bad.json()["error"]["fields"]
    with as_tenant(a["org"]):
        assert BillingProvider.objects.count() == 0
    saved = a["client"].put("/api/v1/billing/provider/", PROVIDER, content_type="application/json")
    assert saved.status_code == 200
    assert saved.json()["npi"] == bf.VALID_NPI
    changed = a["client"].put(
        "/api/v1/billing/provider/", {**PROVIDER, "legal_name": "Harbor Clinic PC"}, content_type="application/json"
    )
    assert changed.json()["id"] == saved.json()["id"]
    assert a["client"].get("/api/v1/billing/provider/").json()["legal_name"] == "Harbor Clinic PC"
    assert b["client"].get("/api/v1/billing/provider/").status_code == 404
    with as_tenant(a["org"]):
        assert BillingProvider.objects.count() == 1


def test_front_desk_cannot_change_provider_or_payers(clinics):
    front_desk = logged_in(add_member(clinics["org-a"]["org"], Role.FRONT_DESK))
    assert front_desk.put("/api/v1/billing/provider/", PROVIDER, content_type="application/json").status_code == 403
    assert post(front_desk, "/api/v1/billing/payers/", {"name": "X", "payer_id": "X1"}).status_code == 403
    assert post(front_desk, "/api/v1/billing/insurance-policies/", policy_body(clinics["org-a"])).status_code == 201


@pytest.fixture
def credit(clinics):
    """Patient A prepaid 100.00 as credit (retail) and owes a 60.00 retail charge; B has the same."""
    result = {}
    for slug in ("org-a", "org-b"):
        clinic = clinics[slug]
        with as_tenant(clinic["org"]):
            charge = bf.charge(clinic["patient"], 6_000, recorded_at=dt.datetime(2025, 1, 15, tzinfo=dt.UTC))
            payment = services.payment_post(
                patient=clinic["patient"], amount_cents=10_000, allow_credit=True, transaction_type="retail_product"
            )
        result[slug] = {"charge": charge, "payment": payment}
    return result


def test_applying_credit_to_a_charge(clinics, credit):
    a = clinics["org-a"]
    body = {
        "credit_id": str(credit["org-a"]["payment"].pk),
        "allocations": [{"charge_id": str(credit["org-a"]["charge"].pk), "amount_cents": 6_000}],
    }
    response = post(a["client"], "/api/v1/billing/credit-applications/", body, key="apply-1")
    assert response.status_code == 201
    assert response.json()["credit_remaining_cents"] == 4_000
    assert [x["amount_cents"] for x in response.json()["applications"]] == [6_000]
    assert post(a["client"], "/api/v1/billing/credit-applications/", body, key="apply-1").status_code == 201
    with as_tenant(a["org"]):
        assert LedgerApplication.objects.count() == 1
        assert LedgerEntry.objects.get(pk=credit["org-a"]["charge"].pk).payment_status == PaymentStatus.PAID
        balance = selectors.patient_balance(patient_id=a["patient"].pk)
        assert (balance.patient_due, balance.credit) == (0, 4_000)
    with as_tenant(clinics["org-b"]["org"]):
        assert LedgerApplication.objects.count() == 0


@pytest.mark.parametrize(
    ("make_body", "field"),
    [
        (
            lambda c: {
                "credit_id": str(c["org-a"]["charge"].pk),
                "allocations": [{"charge_id": str(c["org-a"]["charge"].pk), "amount_cents": 1}],
            },
            "credit_id",
        ),
        (
            lambda c: {
                "credit_id": str(c["org-b"]["payment"].pk),
                "allocations": [{"charge_id": str(c["org-a"]["charge"].pk), "amount_cents": 1}],
            },
            "credit_id",
        ),
        (
            lambda c: {
                "credit_id": str(c["org-a"]["payment"].pk),
                "allocations": [{"charge_id": str(c["org-b"]["charge"].pk), "amount_cents": 1}],
            },
            "allocations[0].charge_id",
        ),
        (
            lambda c: {
                "credit_id": str(c["org-a"]["payment"].pk),
                "allocations": [{"charge_id": str(c["org-a"]["charge"].pk), "amount_cents": 6_001}],
            },
            "allocations",
        ),
        (
            lambda c: {
                "credit_id": str(c["org-a"]["payment"].pk),
                "allocations": [{"charge_id": str(c["org-a"]["charge"].pk), "amount_cents": 0.5}],
            },
            "allocations[0].amount_cents",
        ),
        (lambda c: {"credit_id": str(c["org-a"]["payment"].pk), "allocations": []}, "allocations"),
    ],
)
def test_bad_credit_application_is_400_and_applies_nothing(clinics, credit, make_body, field):
    a = clinics["org-a"]
    response = post(a["client"], "/api/v1/billing/credit-applications/", make_body(credit))
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    for org in (a["org"], clinics["org-b"]["org"]):
        with as_tenant(org):
            assert LedgerApplication.objects.count() == 0


def test_refund_returns_credit_and_cannot_exceed_it(clinics, credit):
    a = clinics["org-a"]
    payment_id = str(credit["org-a"]["payment"].pk)
    too_much = post(a["client"], "/api/v1/billing/refunds/", {"payment_id": payment_id, "amount_cents": 10_001})
    assert too_much.status_code == 400
    assert "amount_cents" in too_much.json()["error"]["fields"]
    refund = post(a["client"], "/api/v1/billing/refunds/", {"payment_id": payment_id, "amount_cents": 2_500}, key="r1")
    assert refund.status_code == 201
    assert (refund.json()["kind"], refund.json()["amount_cents"]) == ("refund", 2_500)
    assert (
        post(
            a["client"], "/api/v1/billing/refunds/", {"payment_id": payment_id, "amount_cents": 2_500}, key="r1"
        ).json()["id"]
        == refund.json()["id"]
    )
    rest = post(a["client"], "/api/v1/billing/refunds/", {"payment_id": payment_id, "amount_cents": 7_501})
    assert rest.status_code == 400
    other_org = post(
        a["client"], "/api/v1/billing/refunds/", {"payment_id": str(credit["org-b"]["payment"].pk), "amount_cents": 100}
    )
    assert other_org.status_code == 400
    assert "payment_id" in other_org.json()["error"]["fields"]
    a_charge = post(
        a["client"], "/api/v1/billing/refunds/", {"payment_id": str(credit["org-a"]["charge"].pk), "amount_cents": 100}
    )
    assert "payment_id" in a_charge.json()["error"]["fields"]
    with as_tenant(a["org"]):
        assert LedgerEntry.objects.filter(kind="refund").count() == 1
        assert selectors.patient_balance(patient_id=a["patient"].pk).credit == 7_500
    with as_tenant(clinics["org-b"]["org"]):
        assert LedgerEntry.objects.filter(kind="refund").count() == 0


@pytest.mark.django_db
def test_openapi_schema_documents_the_new_endpoints(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/billing/installment-plans/",
        "/api/v1/billing/installment-plans/{plan_id}/",
        "/api/v1/billing/installment-plans/{plan_id}/installments/{number}/outcome/",
        "/api/v1/billing/installments/failed/",
        "/api/v1/billing/payers/",
        "/api/v1/billing/insurance-policies/",
        "/api/v1/billing/provider/",
        "/api/v1/billing/refunds/",
        "/api/v1/billing/credit-applications/",
    ):
        assert path in paths
    components = schema["components"]["schemas"]
    assert components["PolicyInputRequest"]["properties"]["member_id"]["writeOnly"] is True
    assert "member_id" not in components["PolicyOutput"]["properties"]
    assert "member_id_masked" in components["PolicyOutput"]["properties"]
    parameters = paths["/api/v1/billing/installment-plans/"]["post"]["parameters"]
    assert [p["name"] for p in parameters if p["in"] == "header"] == ["Idempotency-Key"]


def test_payer_insurance_type_is_taken_and_shown(clinics):
    a = clinics["org-a"]
    created = post(
        a["client"], "/api/v1/billing/payers/", {"name": "Medicare", "payer_id": "MCR1", "insurance_type": "MB"}
    )
    assert created.status_code == 201
    assert created.json()["insurance_type"] == "MB"
    bad = post(a["client"], "/api/v1/billing/payers/", {"name": "Odd", "payer_id": "ODD1", "insurance_type": "XX"})
    assert bad.status_code == 400
    assert "insurance_type" in bad.json()["error"]["fields"]
    assert "XX" not in bad.content.decode()
    with as_tenant(a["org"]):
        assert list(Payer.objects.order_by("name").values_list("payer_id", "insurance_type")) == [
            ("ACME1", "CI"),
            ("MCR1", "MB"),
        ]
