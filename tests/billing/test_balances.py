"""Balances and aging in SQL: a property test against an independent Python ledger, as-of reports, concurrency."""

import datetime as dt
import threading
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.billing import selectors, services
from apps.billing.models import EntryKind, LedgerApplication, LedgerEntry, PaymentStatus, TransactionType
from apps.billing.services import Allocation
from tests.billing import factories as bf
from tests.conftest import as_tenant, make_organization
from tests.factories import PatientFactory

UTC = dt.UTC

# One step of a random ledger history: (operation, charge index, amount in cents).
steps = st.lists(
    st.tuples(
        st.sampled_from(["charge", "insured_charge", "payment", "insurance", "adjustment", "prepay", "refund"]),
        st.integers(min_value=0, max_value=5),
        st.integers(min_value=-50, max_value=30_000),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=steps)
def test_sql_balance_matches_independent_python_ledger(org_a, history):
    with as_tenant(org_a), transaction.atomic():
        patient = PatientFactory()
        policy = bf.policy(patient, bf.payer(payer_id=f"P{patient.mrn.replace('-', '')}"))
        charges: list[LedgerEntry] = []
        owed: dict[str, int] = {}  # charge id -> amount still owed (the independent model)
        adjudicated: set[str] = set()
        credits: dict[str, int] = {}  # payment id -> unapplied credit
        for operation, index, amount in history:
            try:
                if operation in ("charge", "insured_charge"):
                    charge = bf.charge(
                        patient,
                        amount,
                        transaction_type=TransactionType.CLINICAL_SERVICE,
                        insurance_policy=policy if operation == "insured_charge" else None,
                    )
                    charges.append(charge)
                    owed[str(charge.pk)] = amount
                elif operation == "prepay":
                    payment = services.payment_post(
                        patient=patient,
                        amount_cents=amount,
                        allow_credit=True,
                        transaction_type=TransactionType.CLINICAL_SERVICE,
                    )
                    credits[str(payment.pk)] = amount
                elif operation == "refund":
                    if not credits:
                        continue
                    payment_id = sorted(credits)[index % len(credits)]
                    services.refund_create(payment=LedgerEntry.objects.get(pk=payment_id), amount_cents=amount)
                    credits[payment_id] -= amount
                else:
                    if not charges:
                        continue
                    charge = charges[index % len(charges)]
                    kind = {
                        "payment": EntryKind.PAYMENT,
                        "insurance": EntryKind.INSURANCE_PAYMENT,
                        "adjustment": EntryKind.ADJUSTMENT,
                    }[operation]
                    services.payment_post(
                        patient=patient, kind=kind, amount_cents=amount, allocations=[Allocation(charge, amount)]
                    )
                    owed[str(charge.pk)] -= amount
                    if kind != EntryKind.PAYMENT:
                        adjudicated.add(str(charge.pk))
            except ValidationError:
                # Refused: it must have been invalid in the independent model too.
                if operation in ("charge", "insured_charge", "prepay"):
                    assert amount <= 0
                elif operation == "refund":
                    payment_id = sorted(credits)[index % len(credits)]
                    assert amount <= 0 or amount > credits[payment_id]
                else:
                    assert amount <= 0 or amount > owed[str(charges[index % len(charges)].pk)]

        insured = {str(c.pk) for c in charges if c.insurance_policy_id}
        expected_pending = sum(v for k, v in owed.items() if k in insured and k not in adjudicated)
        expected_due = sum(v for k, v in owed.items() if not (k in insured and k not in adjudicated))
        balance = selectors.patient_balance(patient_id=patient.pk)
        # The current statement (without the later applications' branches) and the as-of one agree for today.
        assert selectors.patient_balance(patient_id=patient.pk, as_of=timezone.now().date()) == balance
        for payment_id, unapplied in credits.items():
            assert selectors.remaining_cents(LedgerEntry.objects.get(pk=payment_id)) == unapplied
        assert balance.insurance_pending == expected_pending
        assert balance.patient_due == expected_due
        assert balance.credit == sum(credits.values())
        for charge in charges:
            charge.refresh_from_db()
            applied = sum(LedgerApplication.objects.filter(target=charge).values_list("amount_cents", flat=True))
            assert 0 <= applied <= charge.amount_cents
            remaining = owed[str(charge.pk)]
            # The total the guard trigger keeps on the row is the sum of the applications, and the model's.
            assert charge.applied_cents == applied == charge.amount_cents - remaining
            if remaining == 0:
                assert charge.payment_status == PaymentStatus.PAID
            elif str(charge.pk) in insured and str(charge.pk) not in adjudicated:
                assert charge.payment_status == PaymentStatus.PENDING_INSURANCE
            else:
                assert charge.payment_status == PaymentStatus.PATIENT_DUE
        transaction.set_rollback(True)


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)


def test_aging_buckets_as_of_a_past_date_are_unchanged_by_later_activity(org_a, org_b):
    with as_tenant(org_b):
        bf.charge(PatientFactory(), 77_700, service_date=dt.date(2025, 1, 1), recorded_at=at("2025-01-01"))
    with as_tenant(org_a):
        patient = PatientFactory()
        old = bf.charge(patient, 10_000, service_date=dt.date(2024, 10, 1), recorded_at=at("2024-10-01"))
        bf.charge(patient, 20_000, service_date=dt.date(2024, 12, 15), recorded_at=at("2024-12-15"))
        mid = bf.charge(patient, 30_000, service_date=dt.date(2025, 1, 20), recorded_at=at("2025-01-20"))
        services.payment_post(
            patient=patient, amount_cents=4_000, allocations=[Allocation(old, 4_000)], recorded_at=at("2025-01-10")
        )
        as_of = dt.date(2025, 1, 31)
        before = selectors.aging(as_of=as_of)["USD"]
        assert before.buckets == {"not_due": 0, "0_30": 30_000, "31_60": 20_000, "61_90": 0, "90_plus": 6_000}

        # Activity after the report date: payments on every charge, a new charge, a backlog of credit.
        services.payment_post(patient=patient, amount_cents=6_000, allocations=[Allocation(old, 6_000)])
        services.payment_post(patient=patient, amount_cents=30_000, allocations=[Allocation(mid, 30_000)])
        bf.charge(patient, 5_000, service_date=dt.date(2025, 1, 5))
        services.payment_post(
            patient=patient, amount_cents=999, allow_credit=True, transaction_type=TransactionType.RETAIL_PRODUCT
        )
        after = selectors.aging(as_of=as_of)["USD"]
        assert after == before
        assert selectors.patient_balance(patient_id=patient.pk, as_of=as_of).patient_due == 56_000
        now = selectors.aging()["USD"]
        assert now.total == 25_000
        assert now.credit == 999


def test_insurance_pending_as_of_date_follows_adjudication_date(org_a):
    with as_tenant(org_a):
        patient = PatientFactory()
        policy = bf.policy(patient, bf.payer())
        charge = bf.charge(
            patient,
            10_000,
            transaction_type=TransactionType.CLINICAL_SERVICE,
            insurance_policy=policy,
            recorded_at=at("2025-01-02"),
        )
        services.payment_post(
            patient=patient,
            kind=EntryKind.INSURANCE_PAYMENT,
            amount_cents=7_000,
            allocations=[Allocation(charge, 7_000)],
            recorded_at=at("2025-02-10"),
        )
        january = selectors.patient_balance(patient_id=patient.pk, as_of=dt.date(2025, 1, 31))
        february = selectors.patient_balance(patient_id=patient.pk, as_of=dt.date(2025, 2, 28))
        assert (january.insurance_pending, january.patient_due) == (10_000, 0)
        assert (february.insurance_pending, february.patient_due) == (0, 3_000)


@pytest.mark.usefixtures("committed")
def test_twenty_concurrent_payments_never_over_apply_a_charge():
    org = make_organization("race-org")
    with as_tenant(org):
        patient = PatientFactory()
        charge = bf.charge(patient, 10_000)
    outcomes: list[str] = []
    barrier = threading.Barrier(20)

    def pay() -> None:
        try:
            barrier.wait()
            with as_tenant(org):
                services.payment_post(patient=patient, amount_cents=1_500, allocations=[Allocation(charge, 1_500)])
            outcomes.append("paid")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=pay) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with as_tenant(org):
        applied = sum(LedgerApplication.objects.filter(target=charge).values_list("amount_cents", flat=True))
        charge.refresh_from_db()
        assert sorted(outcomes).count("paid") == 6
        assert outcomes.count("refused") == 14
        assert applied == 9_000
        assert selectors.patient_balance(patient_id=patient.pk).patient_due == 1_000
        assert LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).count() == 6


@pytest.mark.usefixtures("committed")
def test_owner_repairs_of_an_application_keep_the_applied_totals():
    """Only the owner may change or remove an application (a data repair); both entries' totals follow."""
    org = make_organization("repair-org")
    with as_tenant(org):
        patient = PatientFactory()
        charge = bf.charge(patient, 10_000)
        payment = services.payment_post(patient=patient, amount_cents=4_000, allocations=[Allocation(charge, 4_000)])

    def totals() -> tuple[int, int, selectors.Balance]:
        with as_tenant(org):
            charge.refresh_from_db()
            payment.refresh_from_db()
            return charge.applied_cents, payment.applied_cents, selectors.patient_balance(patient_id=patient.pk)

    assert totals()[:2] == (4_000, 4_000)
    with connections["owner"].cursor() as cursor:
        cursor.execute("UPDATE billing_ledgerapplication SET amount_cents = 2500 WHERE source_id = %s", [payment.pk])
    charge_applied, payment_applied, balance = totals()
    assert (charge_applied, payment_applied, balance.patient_due, balance.credit) == (2_500, 2_500, 7_500, 1_500)
    with connections["owner"].cursor() as cursor:
        cursor.execute("DELETE FROM billing_ledgerapplication WHERE source_id = %s", [payment.pk])
    charge_applied, payment_applied, balance = totals()
    assert (charge_applied, payment_applied, balance.patient_due, balance.credit) == (0, 0, 10_000, 4_000)


def test_a_patients_current_balance_reads_no_later_applications_and_other_reports_do():
    patient = uuid.uuid4()
    current = selectors.statement(selectors._BALANCE_SQL, selectors._params(as_of=None, patient_id=patient))
    past = selectors.statement(
        selectors._BALANCE_SQL, selectors._params(as_of=dt.date(2025, 1, 31), patient_id=patient)
    )
    organization = selectors.statement(selectors._BALANCE_SQL, selectors._params(as_of=None))
    assert current.count("billing_ledgerapplication") == 1  # the adjudication check only
    assert past.count("billing_ledgerapplication") == 3
    assert organization.count("billing_ledgerapplication") == 3


def test_a_payment_stamped_ahead_of_the_clock_counts_on_both_sides_of_a_current_balance(org_a, org_b):
    """Another server's clock a little ahead (or a future `recorded_at`): the current balance counts the payment
    and what it applied together, and a report for a past day leaves both out."""
    with as_tenant(org_b):
        bf.charge(PatientFactory(), 12_300)
    with as_tenant(org_a):
        patient = PatientFactory()
        charge = bf.charge(patient, 10_000, recorded_at=timezone.now() - dt.timedelta(days=7))
        services.payment_post(
            patient=patient,
            amount_cents=10_000,
            allocations=[Allocation(charge, 6_000)],
            allow_credit=True,
            recorded_at=timezone.now() + dt.timedelta(hours=1),
        )
        current = selectors.patient_balance(patient_id=patient.pk)
        yesterday = selectors.patient_balance(patient_id=patient.pk, as_of=timezone.now().date() - dt.timedelta(days=1))
        aging = selectors.aging()["USD"]
    assert (current.patient_due, current.credit) == (4_000, 4_000)
    assert (yesterday.patient_due, yesterday.credit) == (10_000, 0)
    assert (aging.total, aging.credit) == (4_000, 4_000)
