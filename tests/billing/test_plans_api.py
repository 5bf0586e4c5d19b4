"""Installment plans through the API: create (idempotent), list/detail with remaining balance, payment outcomes."""

import pytest

from apps.billing.models import InstallmentPlan, LedgerEntry, PaymentStatus
from apps.organizations.models import IdempotencyRecord
from apps.organizations.roles import Role
from tests.billing.factories import post
from tests.conftest import add_member, api_client, as_key, as_tenant, issue_key, logged_in
from tests.factories import PatientFactory

PLANS = "/api/v1/billing/installment-plans/"


@pytest.fixture
def clinics(org_a, org_b):
    data = {}
    for org in (org_a, org_b):
        with as_tenant(org):
            patient = PatientFactory(mrn="SAME")
        data[org.slug] = {
            "org": org,
            "patient": patient,
            "raw_key": (raw_key := issue_key(org, scopes=["billing:read", "billing:write"])),
            "client": api_client(raw_key),
        }
    return data


def plan_body(patient, **change):
    return {
        "patient_id": str(patient.pk),
        "program": "Spring retreat",
        "total_cents": 100_001,
        "installment_count": 4,
        "first_due_date": "2025-03-01",
        "interval_days": 30,
        "external_reference": "sub_123",
        **change,
    }


def counts(org):
    with as_tenant(org):
        return InstallmentPlan.objects.count(), LedgerEntry.objects.count()


def test_create_plan_makes_the_schedule_and_replays_with_the_same_key(clinics):
    a = clinics["org-a"]
    first = post(a["client"], PLANS, plan_body(a["patient"]), key="plan-1")
    assert first.status_code == 201
    body = first.json()
    assert body["remaining_cents"] == 100_001
    assert body["external_reference"] == "sub_123"
    assert [(i["number"], i["due_date"], i["amount_cents"], i["payment_status"]) for i in body["installments"]] == [
        (1, "2025-03-01", 25_001, "patient_due"),
        (2, "2025-03-31", 25_000, "patient_due"),
        (3, "2025-04-30", 25_000, "patient_due"),
        (4, "2025-05-30", 25_000, "patient_due"),
    ]
    again = post(a["client"], PLANS, plan_body(a["patient"]), key="plan-1")
    assert again.status_code == 201
    assert again.json()["id"] == body["id"]
    assert counts(a["org"]) == (1, 4)
    other = post(a["client"], PLANS, plan_body(a["patient"], total_cents=50_000), key="plan-1")
    assert other.status_code == 422
    assert counts(a["org"]) == (1, 4)
    assert counts(clinics["org-b"]["org"]) == (0, 0)


def test_list_and_detail_show_only_own_plans_with_remaining_balance(clinics):
    a, b = clinics["org-a"], clinics["org-b"]
    mine = post(a["client"], PLANS, plan_body(a["patient"])).json()
    theirs = post(b["client"], PLANS, plan_body(b["patient"], program="B retreat")).json()
    outcome = f"{PLANS}{mine['id']}/installments/1/outcome/"
    assert post(a["client"], outcome, {"succeeded": True, "external_reference": "pi_1"}).status_code == 201

    listing = a["client"].get(PLANS).json()["results"]
    assert [(p["id"], p["remaining_cents"]) for p in listing] == [(mine["id"], 75_000)]
    filtered = a["client"].get(f"{PLANS}?patient={b['patient'].pk}").json()["results"]
    assert filtered == []
    detail = a["client"].get(f"{PLANS}{mine['id']}/").json()
    assert detail["remaining_cents"] == 75_000
    assert [(i["outstanding_cents"], i["payment_status"]) for i in detail["installments"]][:2] == [
        (0, "paid"),
        (25_000, "patient_due"),
    ]
    assert a["client"].get(f"{PLANS}{theirs['id']}/").status_code == 404
    # Recording an outcome on another organization's plan is a 404 and changes nothing there.
    other = post(
        a["client"], f"{PLANS}{theirs['id']}/installments/1/outcome/", {"succeeded": True, "external_reference": "x"}
    )
    assert other.status_code == 404
    assert b["client"].get(f"{PLANS}{theirs['id']}/").json()["remaining_cents"] == 100_001


def test_failed_outcome_marks_the_installment_and_lists_it_for_follow_up(clinics):
    a, b = clinics["org-a"], clinics["org-b"]
    plan = post(a["client"], PLANS, plan_body(a["patient"])).json()
    their_plan = post(b["client"], PLANS, plan_body(b["patient"])).json()
    assert (
        post(
            b["client"],
            f"{PLANS}{their_plan['id']}/installments/1/outcome/",
            {"succeeded": False, "external_reference": "pi_b"},
        ).status_code
        == 201
    )
    url = f"{PLANS}{plan['id']}/installments/2/outcome/"
    failed = post(a["client"], url, {"succeeded": False, "external_reference": "pi_fail_2"}, key="out-1")
    assert failed.status_code == 201
    body = failed.json()
    assert body["payment"]["payment_status"] == "failed"
    assert body["payment"]["external_reference"] == "pi_fail_2"
    assert body["plan"]["installments"][1]["payment_status"] == "failed"
    assert body["plan"]["remaining_cents"] == 100_001

    follow_up = a["client"].get("/api/v1/billing/installments/failed/").json()["results"]
    assert [(f["plan_id"], f["number"], f["outstanding_cents"]) for f in follow_up] == [(plan["id"], 2, 25_000)]

    paid = post(a["client"], url, {"succeeded": True, "external_reference": "pi_ok_2"})
    assert paid.status_code == 201
    assert paid.json()["payment"]["payment_status"] == "paid"
    assert paid.json()["plan"]["remaining_cents"] == 75_001
    assert a["client"].get("/api/v1/billing/installments/failed/").json()["results"] == []
    # Paying it again is refused: nothing is owed on it.
    again = post(a["client"], url, {"succeeded": True, "external_reference": "pi_ok_3"})
    assert again.status_code == 400
    assert "charge" in again.json()["error"]["fields"]
    with as_tenant(a["org"]):
        statuses = list(
            LedgerEntry.objects.filter(external_reference__startswith="pi_")
            .order_by("created_at")
            .values_list("external_reference", "payment_status")
        )
        assert statuses == [("pi_fail_2", PaymentStatus.FAILED), ("pi_ok_2", PaymentStatus.PAID)]
    assert len(b["client"].get("/api/v1/billing/installments/failed/").json()["results"]) == 1


def test_outcome_for_an_unknown_installment_number_names_the_field(clinics):
    a = clinics["org-a"]
    plan = post(a["client"], PLANS, plan_body(a["patient"])).json()
    response = post(
        a["client"], f"{PLANS}{plan['id']}/installments/9/outcome/", {"succeeded": True, "external_reference": "x"}
    )
    assert response.status_code == 400
    assert "number" in response.json()["error"]["fields"]
    missing_ref = post(a["client"], f"{PLANS}{plan['id']}/installments/1/outcome/", {"succeeded": True})
    assert missing_ref.status_code == 400
    assert "external_reference" in missing_ref.json()["error"]["fields"]
    assert counts(a["org"]) == (1, 4)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"installment_count": 0}, "installment_count"),
        ({"installment_count": 121}, "installment_count"),
        ({"total_cents": 100.5}, "total_cents"),
        ({"total_cents": 0}, "total_cents"),
        ({"total_cents": 3, "installment_count": 4}, "total_cents"),
        ({"currency": "XXY"}, "currency"),
        ({"interval_days": 0}, "interval_days"),
        ({"program": ""}, "program"),
        ({"first_due_date": "2025-02-30"}, "first_due_date"),
        ({"patient_id": "00000000-0000-0000-0000-000000000000"}, "patient_id"),
    ],
)
def test_bad_plan_input_is_400_naming_the_field_and_stores_nothing(clinics, change, field):
    a = clinics["org-a"]
    response = post(a["client"], PLANS, plan_body(a["patient"], **change), key="bad-plan")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert counts(a["org"]) == (0, 0)
    with as_key(a["org"], a["raw_key"]):
        assert IdempotencyRecord.objects.count() == 0


def test_other_organizations_patient_is_unknown(clinics):
    a, b = clinics["org-a"], clinics["org-b"]
    response = post(a["client"], PLANS, plan_body(b["patient"]))
    assert response.status_code == 400
    assert "patient_id" in response.json()["error"]["fields"]
    assert counts(a["org"]) == (0, 0)
    assert counts(b["org"]) == (0, 0)


def test_clinicians_and_coaches_have_no_plan_access(clinics):
    org = clinics["org-a"]["org"]
    for role in (Role.CLINICIAN, Role.COACH):
        client = logged_in(add_member(org, role))
        assert client.get(PLANS).status_code == 403
        assert post(client, PLANS, plan_body(clinics["org-a"]["patient"])).status_code == 403
    front_desk = logged_in(add_member(org, Role.FRONT_DESK))
    assert post(front_desk, PLANS, plan_body(clinics["org-a"]["patient"])).status_code == 201
    assert counts(org) == (1, 4)
