"""Installment plans (schedule, failed payments for follow-up, remaining balance) and the billing admin pages."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from apps.billing import selectors, services
from apps.billing.models import (
    Claim,
    ClaimStatus,
    ClearinghouseFile,
    Denial,
    EntryKind,
    InsurancePolicy,
    LedgerEntry,
    PaymentStatus,
    ProviderAdjustment,
    RemittanceLine,
    TransactionType,
    UnmatchedRemittance,
)
from apps.organizations.roles import Role
from tests.billing import factories as bf
from tests.conftest import add_member, as_tenant, logged_in
from tests.factories import PatientFactory


@pytest.fixture
def plan(org_a, org_b):
    with as_tenant(org_b):
        other = services.installment_plan_create(
            patient=PatientFactory(),
            program="B retreat",
            total_cents=40_000,
            installment_count=2,
            first_due_date=dt.date(2025, 1, 1),
        )
        charge = other.entries.order_by("service_date").first()
        services.installment_payment_record(charge=charge, succeeded=False, external_reference="pi_b_fail")
    with as_tenant(org_a):
        patient = PatientFactory()
        return services.installment_plan_create(
            patient=patient,
            program="Spring retreat",
            total_cents=100_001,
            installment_count=4,
            first_due_date=dt.date(2025, 3, 1),
            interval_days=30,
            external_reference="sub_123",
            recorded_at=dt.datetime(2025, 2, 15, 12, tzinfo=dt.UTC),
        )


def test_plan_schedule_is_one_charge_per_installment_summing_to_total(plan, org_a):
    with as_tenant(org_a):
        charges = list(plan.entries.order_by("service_date"))
        assert [c.amount_cents for c in charges] == [25_001, 25_000, 25_000, 25_000]
        assert [c.service_date for c in charges] == [
            dt.date(2025, 3, 1),
            dt.date(2025, 3, 31),
            dt.date(2025, 4, 30),
            dt.date(2025, 5, 30),
        ]
        assert [c.metadata["installment_number"] for c in charges] == [1, 2, 3, 4]
        assert {c.transaction_type for c in charges} == {TransactionType.PROGRAM_ENROLLMENT}
        assert selectors.installment_plan_remaining(plan=plan) == 100_001


def test_failed_payment_is_marked_and_listed_then_paid(plan, org_a):
    with as_tenant(org_a):
        first, second = list(plan.entries.order_by("service_date"))[:2]
        services.installment_payment_record(charge=first, succeeded=True, external_reference="pi_ok_1")
        attempt = services.installment_payment_record(charge=second, succeeded=False, external_reference="pi_fail_2")
        second.refresh_from_db()
        assert attempt.payment_status == PaymentStatus.FAILED
        assert attempt.external_reference == "pi_fail_2"
        assert second.payment_status == PaymentStatus.FAILED
        assert list(selectors.failed_installments()) == [second]
        assert selectors.installment_plan_remaining(plan=plan) == 75_000
        # The failed attempt settles nothing: the balance still owes the installment.
        assert selectors.patient_balance(patient_id=plan.patient_id).patient_due == 75_000

        services.installment_payment_record(charge=second, succeeded=True, external_reference="pi_ok_2")
        second.refresh_from_db()
        assert second.payment_status == PaymentStatus.PAID
        assert list(selectors.failed_installments()) == []
        assert selectors.installment_plan_remaining(plan=plan) == 50_000
        assert LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).count() == 3


def test_plan_validation(org_a):
    with as_tenant(org_a):
        patient = PatientFactory()
        for kwargs, field in [
            ({"total_cents": 0}, "total_cents"),
            ({"installment_count": 0}, "installment_count"),
            ({"currency": "ABC"}, "currency"),
        ]:
            values = {"total_cents": 1_000, "installment_count": 2, **kwargs}
            with pytest.raises(ValidationError) as error:
                services.installment_plan_create(
                    patient=patient, program="X", first_due_date=dt.date(2025, 1, 1), **values
                )
            assert field in error.value.message_dict
        assert LedgerEntry.objects.count() == 0


def test_dashboard_shows_aging_failed_installments_and_csv(plan, org_a):
    with as_tenant(org_a):
        first = plan.entries.order_by("service_date").first()
        services.installment_payment_record(charge=first, succeeded=False, external_reference="pi_x")
    client = logged_in(add_member(org_a, Role.BILLING))
    page = client.get("/admin/billing/ledgerentry/dashboard/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Spring retreat: installment 1 of 4" in body
    assert "B retreat" not in body
    csv_response = client.get("/admin/billing/ledgerentry/dashboard/?as_of=2025-04-15&format=csv")
    rows = csv_response.content.decode().splitlines()
    assert rows[0] == "section,as_of,currency,name,value_cents"
    assert "aging,2025-04-15,USD,31_60,25001" in rows
    assert "aging,2025-04-15,USD,0_30,25000" in rows
    assert "aging,2025-04-15,USD,not_due,50000" in rows


def test_posting_a_payment_in_the_admin_applies_it_to_chosen_charges(org_a):
    with as_tenant(org_a):
        patient = PatientFactory()
        one = bf.charge(patient, 10_000)
        two = bf.charge(patient, 5_000)
    client = logged_in(add_member(org_a, Role.FRONT_DESK))
    url = f"/admin/billing/ledgerentry/patient/{patient.pk}/pay/"
    assert client.get(url).status_code == 200
    response = client.post(
        url, {"kind": "payment", "method": "card", f"charge_{one.pk}": "60.00", f"charge_{two.pk}": "50.00"}
    )
    assert response.status_code == 302
    with as_tenant(org_a):
        one.refresh_from_db()
        two.refresh_from_db()
        assert (one.payment_status, two.payment_status) == (PaymentStatus.PATIENT_DUE, PaymentStatus.PAID)
        assert selectors.patient_balance(patient_id=patient.pk).patient_due == 4_000
    ledger = client.get(f"/admin/billing/ledgerentry/patient/{patient.pk}/")
    assert "40.00" in ledger.content.decode()


def test_overpaying_in_the_admin_is_refused_and_stores_nothing(org_a):
    with as_tenant(org_a):
        patient = PatientFactory()
        one = bf.charge(patient, 10_000)
    client = logged_in(add_member(org_a, Role.BILLING))
    response = client.post(
        f"/admin/billing/ledgerentry/patient/{patient.pk}/pay/",
        {"kind": "payment", "method": "card", f"charge_{one.pk}": "100.01"},
    )
    assert response.status_code == 200
    with as_tenant(org_a):
        assert LedgerEntry.objects.count() == 1


def test_clinician_cannot_post_payments(org_a):
    with as_tenant(org_a):
        patient = PatientFactory()
    client = logged_in(add_member(org_a, Role.CLINICIAN))
    assert client.get(f"/admin/billing/ledgerentry/patient/{patient.pk}/pay/").status_code == 403
    assert client.get(f"/admin/billing/ledgerentry/patient/{patient.pk}/").status_code == 200


def test_policy_member_id_is_encrypted_at_rest(org_a):
    from django.db import connection

    with as_tenant(org_a):
        policy = bf.policy(PatientFactory(), bf.payer(), member_id="SECRET99")
        with connection.cursor() as cursor:
            cursor.execute("SELECT member_id FROM billing_insurancepolicy WHERE id = %s", [policy.pk])
            stored = cursor.fetchone()[0]
        assert "SECRET99" not in stored
        assert InsurancePolicy.objects.get(pk=policy.pk).member_id == "SECRET99"


@pytest.mark.parametrize(
    ("field", "value"), [("npi", "1234567890"), ("tax_id", "12-345"), ("taxonomy_code", "XYZ"), ("postal_code", "1234")]
)
def test_billing_provider_rejects_bad_identifiers(org_a, field, value):
    with as_tenant(org_a):
        with pytest.raises(ValidationError) as error:
            bf.provider(**{field: value})
        assert field in error.value.message_dict
        assert not bf.BillingProvider.objects.exists()


def test_demo_seed_is_idempotent_and_has_mixed_activity(org_a, org_b):
    from apps.billing import demo
    from apps.patients import demo as patient_demo

    with as_tenant(org_a):
        patient_demo.seed(slug=org_a.slug)
        demo.seed(slug=org_a.slug)
        count = LedgerEntry.objects.count()
        demo.seed(slug=org_a.slug)
        assert LedgerEntry.objects.count() == count
        kinds = set(LedgerEntry.objects.values_list("transaction_type", "kind"))
        assert (TransactionType.CLINICAL_SERVICE, EntryKind.INSURANCE_PAYMENT) in kinds
        assert (TransactionType.RETAIL_PRODUCT, EntryKind.PAYMENT) in kinds
        assert [c.description for c in selectors.failed_installments()] == [
            "Spring mindfulness retreat: installment 3 of 4"
        ]
        assert sum(selectors.aging()["USD"].buckets.values()) > 0
        clinical_charges = LedgerEntry.objects.filter(
            kind=EntryKind.CHARGE, transaction_type=TransactionType.CLINICAL_SERVICE
        )
        assert clinical_charges.filter(encounter__isnull=False).count() == 7
        assert clinical_charges.filter(encounter__isnull=True).count() == 0
        assert all(c.encounter.patient_id == c.patient_id for c in clinical_charges.select_related("encounter"))
        # The visits were sent as claims and the older ones answered by the payers' 835 remittances: paid with
        # contractual adjustments and patient responsibility, one denied (in the denial queue), two waiting.
        assert sorted(ClearinghouseFile.objects.values_list("kind", "payer_name")) == [
            ("835", "ACME HEALTH PLAN"),
            ("835", "BLUE RIDGE MUTUAL"),
        ]
        assert sorted(Claim.objects.values_list("status", flat=True)) == sorted(
            [ClaimStatus.PAID] * 4 + [ClaimStatus.DENIED] + [ClaimStatus.SUBMITTED] * 2 + [ClaimStatus.READY]
        )
        # The visit the primary payer left to the deductible is billed to the patient's secondary plan.
        secondary = Claim.objects.get(primary_claim__isnull=False)
        assert (secondary.status, secondary.policy.priority, secondary.payer.payer_id) == ("ready", "S", "ACME1")
        assert (secondary.primary_claim.status, secondary.primary_claim.payer.payer_id) == ("paid", "BRM22")
        assert [(d.reason_codes, d.remark_codes) for d in Denial.objects.all()] == [(["CO-197"], ["N130"])]
        assert sorted(RemittanceLine.objects.values_list("patient_cents", flat=True)) == [1_400, 1_800, 2_500, 18_000]
        # A claim of the former billing system in the unmatched queue; interest paid on the whole payment.
        assert list(UnmatchedRemittance.objects.values_list("submitter_claim_id", "reason")) == [
            ("OLD-2024-0117", UnmatchedRemittance.Reason.NO_CLAIM)
        ]
        assert list(ProviderAdjustment.objects.values_list("reason_code", "amount_cents")) == [("L6", -325)]
    with as_tenant(org_b):
        assert LedgerEntry.objects.count() == 0
        assert Denial.objects.count() == 0
