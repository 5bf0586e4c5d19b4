"""Installment plans in the admin: the add form creates the schedule, payment outcomes are recorded per installment."""

import uuid

import pytest

from apps.billing import selectors
from apps.billing.models import EntryKind, InstallmentPlan, LedgerEntry, PaymentStatus
from apps.organizations.roles import Role
from tests.conftest import add_member, as_tenant, logged_in
from tests.factories import PatientFactory

ADD = "/admin/billing/installmentplan/add/"
MINE = uuid.UUID("6f1c2a7e-0000-4000-8000-00000000000a")
THEIRS = uuid.UUID("6f1c2a7e-0000-4000-8000-00000000000b")


@pytest.fixture
def patients(org_a, org_b):
    with as_tenant(org_b):
        other = PatientFactory(pk=THEIRS, mrn="B-ONLY")
    with as_tenant(org_a):
        mine = PatientFactory(pk=MINE, mrn="A-1")
    return mine, other


def form(**change):
    return {
        "patient": str(MINE),
        "program": "Spring retreat",
        "total": "1000.01",
        "currency": "USD",
        "installment_count": "4",
        "first_due_date": "2025-03-01",
        "interval_days": "30",
        "external_reference": "sub_123",
        **change,
    }


def plan_count(org):
    with as_tenant(org):
        return InstallmentPlan.objects.count(), LedgerEntry.objects.count()


def test_add_form_creates_the_plan_and_its_charges(org_a, org_b, patients):
    client = logged_in(add_member(org_a, Role.BILLING))
    ledger = client.get(f"/admin/billing/ledgerentry/patient/{patients[0].pk}/").content.decode()
    assert f'href="{ADD}?patient={MINE}"' in ledger
    add_page = client.get(f"{ADD}?patient={MINE}").content.decode()
    assert "remainder cents are added to the first installment" in add_page
    # The patient is picked through the admin's patient search, shown as everywhere else.
    assert 'data-ajax--url="/admin/autocomplete/"' in add_page
    assert f'<option value="{MINE}" selected>{patients[0]}</option>' in add_page
    assert client.get(f"{ADD}?patient=not-an-id").status_code == 200
    response = client.post(ADD, form())
    assert response.status_code == 302
    with as_tenant(org_a):
        plan = InstallmentPlan.objects.get()
        assert (plan.patient_id, plan.total_cents, plan.external_reference) == (patients[0].pk, 100_001, "sub_123")
        assert [c.amount_cents for c in plan.entries.order_by("service_date")] == [25_001, 25_000, 25_000, 25_000]
    assert response["Location"] == f"/admin/billing/installmentplan/{plan.pk}/change/"
    page = client.get(response["Location"]).content.decode()
    assert "1,000.01 USD" in page
    assert "Record payment outcome" in page
    assert plan_count(org_b) == (0, 0)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"patient": str(THEIRS)}, "patient"),
        ({"patient": "00000000-0000-4000-8000-000000000000"}, "patient"),
        ({"patient": "NOPE"}, "patient"),
        ({"total": "10.001"}, "total"),
        ({"total": "0"}, "total"),
        ({"total": "0.03"}, "total"),
        ({"installment_count": "0"}, "installment_count"),
        ({"program": ""}, "program"),
    ],
)
def test_bad_add_form_input_names_the_field_and_stores_nothing(org_a, org_b, patients, change, field):
    client = logged_in(add_member(org_a, Role.OWNER))
    response = client.post(ADD, form(**change))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert plan_count(org_a) == (0, 0)
    assert plan_count(org_b) == (0, 0)


def test_recording_outcomes_in_the_admin(org_a, patients):
    client = logged_in(add_member(org_a, Role.FRONT_DESK))
    client.post(ADD, form())
    with as_tenant(org_a):
        plan = InstallmentPlan.objects.get()
        first, second = list(plan.entries.order_by("service_date"))[:2]
    url = f"/admin/billing/installmentplan/installment/{second.pk}/outcome/"
    assert "outstanding 250.00 USD" in client.get(url).content.decode()
    failed = client.post(url, {"outcome": "failed", "external_reference": "pi_fail"})
    assert failed.status_code == 302
    paid = client.post(
        f"/admin/billing/installmentplan/installment/{first.pk}/outcome/",
        {"outcome": "succeeded", "external_reference": "pi_ok"},
    )
    assert paid.status_code == 302
    too_much = client.post(url, {"outcome": "succeeded", "external_reference": "pi_x", "amount": "250.01"})
    assert too_much.status_code == 200
    with as_tenant(org_a):
        first.refresh_from_db()
        second.refresh_from_db()
        assert (first.payment_status, second.payment_status) == (PaymentStatus.PAID, PaymentStatus.FAILED)
        assert list(selectors.failed_installments()) == [second]
        assert selectors.installment_plan_remaining(plan=plan) == 75_000
        assert sorted(
            LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).values_list("external_reference", flat=True)
        ) == [
            "pi_fail",
            "pi_ok",
        ]


def test_other_organizations_installment_is_404_and_roles_are_checked(org_a, org_b, patients):
    logged_in(add_member(org_b, Role.OWNER)).post(ADD, form(patient=str(THEIRS)))
    with as_tenant(org_b):
        their_charge = LedgerEntry.objects.filter(installment_plan__isnull=False).first()
    mine = logged_in(add_member(org_a, Role.OWNER))
    url = f"/admin/billing/installmentplan/installment/{their_charge.pk}/outcome/"
    assert mine.get(url).status_code == 404
    assert mine.post(url, {"outcome": "succeeded", "external_reference": "x"}).status_code == 404
    with as_tenant(org_b):
        their_charge.refresh_from_db()
        assert their_charge.payment_status == PaymentStatus.PATIENT_DUE
    for role in (Role.CLINICIAN, Role.COACH):
        client = logged_in(add_member(org_a, role))
        assert client.get(ADD).status_code == 403
        assert client.post(ADD, form()).status_code == 403
    assert plan_count(org_a) == (0, 0)
