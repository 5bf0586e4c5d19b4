"""Bulk writes (apps/organizations/bulk.py): rows and their history as `save()` would write them, under RLS."""

import copy
import datetime as dt

import pytest
from django.db import IntegrityError, ProgrammingError, transaction

from apps.billing.models import EntryKind, LedgerEntry, PaymentStatus, TransactionType
from apps.events import types as event_types
from apps.events.models import DomainEvent
from apps.organizations import bulk
from apps.organizations.roles import DataClassification, Role
from tests.conftest import add_member, as_tenant
from tests.factories import PatientFactory

METADATA = {"note": 'tab\there, new\nline, back\\slash, quote " and é', "units": 2, "codes": ["F41.1"]}


def _charges(patient, count):
    return [
        LedgerEntry(
            patient=patient,
            kind=EntryKind.CHARGE,
            transaction_type=TransactionType.RETAIL_PRODUCT,
            payment_status=PaymentStatus.PATIENT_DUE,
            amount_cents=1_000 + number,
            metadata=METADATA,
            description=f"Item {number}",
            service_date=dt.date(2025, 3, number + 1),
        )
        for number in range(count)
    ]


def test_rows_insert_writes_the_rows_and_their_history_with_the_actor(org_a, org_b):
    user = add_member(org_a, Role.BILLING)
    with as_tenant(org_a, Role.BILLING, user_id=user.pk):
        patient = PatientFactory()
        charges = _charges(patient, 3)
        bulk.rows_insert(LedgerEntry, charges)
        stored = list(LedgerEntry.objects.order_by("amount_cents"))
        assert [(e.pk, e.amount_cents, e.metadata, e.description, e.service_date) for e in stored] == [
            (c.pk, c.amount_cents, METADATA, c.description, c.service_date) for c in charges
        ]
        assert all(e.organization_id == org_a.id and e.created_at is not None for e in stored)
        history = list(LedgerEntry.history.order_by("history_id"))
        assert [(h.id, h.history_type, h.history_user_id, h.metadata) for h in history] == [
            (c.pk, "+", user.pk, METADATA) for c in charges
        ]
        assert charges[0]._state.adding is False
    with as_tenant(org_b):
        assert LedgerEntry.objects.count() == 0
        assert LedgerEntry.history.count() == 0


def test_rows_update_writes_the_fields_and_a_history_row_per_row(org_a, org_b):
    with as_tenant(org_b):
        b_charge = _charges(PatientFactory(), 1)[0]
        bulk.rows_insert(LedgerEntry, [b_charge])
    with as_tenant(org_a):
        charges = _charges(PatientFactory(), 2)
        bulk.rows_insert(LedgerEntry, charges)
        before = {c.pk: c.updated_at for c in LedgerEntry.objects.all()}
        for charge in charges:
            charge.payment_status = PaymentStatus.PAID
            charge.description = "not written: not among the fields"
        b_charge.payment_status = PaymentStatus.PAID
        bulk.rows_update(LedgerEntry, [*charges, b_charge], ["payment_status"])
        stored = {c.pk: c for c in LedgerEntry.objects.all()}
        assert {pk: (c.payment_status, c.description) for pk, c in stored.items()} == {
            charges[0].pk: (PaymentStatus.PAID, "Item 0"),
            charges[1].pk: (PaymentStatus.PAID, "Item 1"),
        }
        assert all(stored[pk].updated_at > before[pk] for pk in stored)
        changed = LedgerEntry.history.filter(history_type="~").order_by("history_id")
        assert [(h.id, h.payment_status, h.description) for h in changed] == [
            (charges[0].pk, PaymentStatus.PAID, "Item 0"),
            (charges[1].pk, PaymentStatus.PAID, "Item 1"),
        ]
    with as_tenant(org_b):  # another organization's row named in the update is left as it was
        assert LedgerEntry.objects.get().payment_status == PaymentStatus.PATIENT_DUE
        assert LedgerEntry.history.filter(history_type="~").count() == 0


def test_history_insert_keeps_every_step_in_order(org_a):
    with as_tenant(org_a):
        charge = _charges(PatientFactory(), 1)[0]
        bulk.rows_insert(LedgerEntry, [charge])
        steps = []
        for day, status in enumerate((PaymentStatus.PENDING_INSURANCE, PaymentStatus.FAILED, PaymentStatus.PAID)):
            charge.payment_status = status
            charge.updated_at = dt.datetime(2025, 4, day + 1, 9, tzinfo=dt.UTC)
            steps.append(copy.copy(charge))
        bulk.history_insert(LedgerEntry, steps, history_type="~")
        # Each step is recorded as it was held, its time stamp included (a history row is not a save).
        assert list(
            LedgerEntry.history.filter(history_type="~")
            .order_by("history_id")
            .values_list("payment_status", "updated_at")
        ) == [(step.payment_status, step.updated_at) for step in steps]
        assert [step.updated_at.day for step in steps] == [1, 2, 3]
        assert LedgerEntry.history.order_by("history_id").first().history_type == "+"


def test_rows_of_another_organization_or_breaking_a_constraint_store_nothing(org_a, org_b):
    with as_tenant(org_b):
        b_patient = PatientFactory()
    with as_tenant(org_a):
        patient = PatientFactory()
        foreign = _charges(patient, 2)
        foreign[1].organization_id = org_b.id
        with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
            bulk.rows_insert(LedgerEntry, foreign)
        other_patient = _charges(patient, 1)
        other_patient[0].patient_id = b_patient.pk
        with pytest.raises(IntegrityError, match="same_org_fk"), transaction.atomic():
            bulk.rows_insert(LedgerEntry, other_patient)
        negative = _charges(patient, 2)
        negative[0].amount_cents = -1
        with pytest.raises(IntegrityError, match="amount_positive"), transaction.atomic():
            bulk.rows_insert(LedgerEntry, negative)
        assert LedgerEntry.objects.count() == 0
        assert LedgerEntry.history.count() == 0
    with as_tenant(org_b):
        assert LedgerEntry.objects.count() == 0


def test_rows_insert_leaves_database_numbered_ids_and_defaults_to_the_database(org_a):
    with as_tenant(org_a):
        events = [
            DomainEvent(
                event_type=event_types.LEDGER_ENTRY_CREATED,
                subject_type="ledger_entry",
                subject_id=charge.pk,
                data={"n": number},
                data_classification=DataClassification.GENERAL_WELLNESS,
                occurred_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
            )
            for number, charge in enumerate(_charges(PatientFactory(), 3))
        ]
        bulk.rows_insert(DomainEvent, events, history=False)
        stored = list(DomainEvent.objects.order_by("id").values_list("data", "transaction_id", "id"))
        assert [data for data, _, _ in stored] == [{"n": 0}, {"n": 1}, {"n": 2}]
        assert len({transaction_id for _, transaction_id, _ in stored}) == 1
        assert all(transaction_id > 0 and row_id > 0 for _, transaction_id, row_id in stored)
