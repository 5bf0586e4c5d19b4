"""Writes for billing. Each service validates first and runs in one transaction.

Money rules enforced here (with readable field errors) and again by the database (constraints, the
application trigger, column grants): amounts are positive whole cents, currencies are ISO 4217 and never
mixed, a charge is never settled beyond its amount, a credit never spends more than it holds.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef
from django.db.models.expressions import RawSQL
from django.utils import timezone

from apps.clinical.models import Encounter
from apps.events import types as event_types
from apps.events.services import event_record, event_record_many
from apps.organizations import bulk
from apps.organizations.roles import DataClassification
from apps.patients.models import Patient

from . import codes, selectors
from .models import (
    CREDIT_KINDS,
    INSURANCE_KINDS,
    BillingProvider,
    ClaimLine,
    EntryKind,
    InstallmentPlan,
    InsurancePolicy,
    InsuranceType,
    LedgerApplication,
    LedgerEntry,
    Payer,
    PaymentStatus,
    RemittanceLine,
    TransactionType,
)

MAX_AMOUNT_CENTS = 100_000_000_00  # one hundred million: a typo guard, far above any clinic bill

METADATA_VALIDATORS = {
    TransactionType.CLINICAL_SERVICE: codes.clinical_metadata,
    TransactionType.RETAIL_PRODUCT: codes.retail_metadata,
    TransactionType.PROGRAM_ENROLLMENT: codes.program_metadata,
}


@dataclass(frozen=True)
class Allocation:
    """`amount_cents` of a new credit to apply to `charge`."""

    charge: LedgerEntry
    amount_cents: int


def _validate_amount(amount_cents: Any, field: str = "amount_cents") -> int:
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise ValidationError({field: "Give a whole number of cents."})
    if amount_cents <= 0:
        raise ValidationError({field: "Must be greater than zero."})
    if amount_cents > MAX_AMOUNT_CENTS:
        raise ValidationError({field: "Too large."})
    return amount_cents


def _validate_currency(currency: str) -> str:
    try:
        codes.validate_currency(currency)
    except ValidationError as error:
        raise ValidationError({"currency": error.messages}) from None
    return currency


# The unique constraints that keep one payment from being posted twice (see `LedgerEntry.Meta`).
DUPLICATE_REFERENCE_CONSTRAINTS = ("ledgerentry_payment_reference_once", "ledgerentry_insurance_reference_once")
DUPLICATE_REFERENCE_MESSAGE = "A payment with this reference has already been posted."


def _integrity_to_validation(error: IntegrityError) -> ValidationError:
    """The database's verdict on money, as a field error (our own guard's messages name no values)."""
    text = str(error)
    if any(name in text for name in DUPLICATE_REFERENCE_CONSTRAINTS):
        return ValidationError({"external_reference": DUPLICATE_REFERENCE_MESSAGE})
    if "over-application" in text or "credit exhausted" in text:
        return ValidationError({"allocations": "More than what is owed (or what the payment holds)."})
    if "currencies differ" in text:
        return ValidationError({"currency": "A payment and the charges it settles must use one currency."})
    if "different patients" in text:
        return ValidationError({"allocations": "Charges must belong to the payment's patient."})
    raise error


# --- charges -------------------------------------------------------------------------------------------------


def _ledger_event(entry: LedgerEntry) -> None:
    """The outbox event of a new ledger entry. Its data holds no diagnosis or procedure code, so it is classified
    as the entry is shown to billing readers without PHI access (the ledger API redacts the codes for them)."""
    event_record(
        event_type=event_types.LEDGER_ENTRY_CREATED,
        subject_id=entry.pk,
        patient_id=entry.patient_id,
        data_classification=DataClassification.GENERAL_WELLNESS,
        data=_ledger_event_data(entry),
    )


def _ledger_event_data(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "kind": entry.kind,
        "transaction_type": entry.transaction_type,
        "amount_cents": entry.amount_cents,
        "currency": entry.currency,
        "payment_status": entry.payment_status,
    }


def charge_create(
    *,
    patient: Patient,
    transaction_type: str,
    amount_cents: int,
    currency: str = "USD",
    service_date: dt.date | None = None,
    metadata: dict[str, Any] | None = None,
    description: str = "",
    encounter: Encounter | None = None,
    insurance_policy: InsurancePolicy | None = None,
    installment_plan: InstallmentPlan | None = None,
    recorded_at: dt.datetime | None = None,
) -> LedgerEntry:
    """Record a charge. Clinical charges billed to a policy start `pending_insurance`, others `patient_due`."""
    if transaction_type not in TransactionType.values:
        raise ValidationError({"transaction_type": "Use clinical_service, retail_product or program_enrollment."})
    _validate_amount(amount_cents)
    _validate_currency(currency)
    raw_metadata = dict(metadata or {})
    if encounter is not None and transaction_type == TransactionType.CLINICAL_SERVICE:
        # The visit's place of service unless the charge says otherwise.
        raw_metadata.setdefault("place_of_service", encounter.place_of_service)
    clean_metadata = METADATA_VALIDATORS[TransactionType(transaction_type)](raw_metadata)
    if encounter is not None:
        if transaction_type != TransactionType.CLINICAL_SERVICE:
            raise ValidationError({"encounter": "Only clinical services belong to an encounter."})
        if encounter.patient_id != patient.pk:
            raise ValidationError({"encounter": "Not an encounter of this patient."})
    if insurance_policy is not None:
        if transaction_type != TransactionType.CLINICAL_SERVICE:
            raise ValidationError({"insurance_policy": "Only clinical services are billed to insurance."})
        if insurance_policy.patient_id != patient.pk or not insurance_policy.is_active:
            raise ValidationError({"insurance_policy": "Not an active policy of this patient."})
    entry = LedgerEntry(
        patient=patient,
        kind=EntryKind.CHARGE,
        transaction_type=transaction_type,
        payment_status=(PaymentStatus.PENDING_INSURANCE if insurance_policy is not None else PaymentStatus.PATIENT_DUE),
        amount_cents=amount_cents,
        currency=currency,
        metadata=clean_metadata,
        description=description,
        service_date=service_date or timezone.localdate(),
        encounter=encounter,
        insurance_policy=insurance_policy,
        installment_plan=installment_plan,
    )
    if recorded_at is not None:
        entry.created_at = recorded_at
    entry.full_clean(exclude=["organization", "patient", "encounter", "insurance_policy", "installment_plan", "claim"])
    with transaction.atomic():
        entry.save()
        _ledger_event(entry)
    return entry


# --- payments, adjustments, refunds -------------------------------------------------------------------------


def insurance_reversal_debit(*, charge: LedgerEntry, amount_cents: int, description: str) -> LedgerEntry:
    """A debit reopening what an insurance remittance settled of a claimed charge and the payer took back (835
    reversal): a charge of the same patient, policy, claim and service date, waiting for insurance again."""
    debit = reversal_debit_entry(charge=charge, amount_cents=amount_cents, description=description)
    with transaction.atomic():
        debit.save()
        _ledger_event(debit)
    return debit


def reversal_debit_entry(*, charge: LedgerEntry, amount_cents: int, description: str) -> LedgerEntry:
    """The reversal debit of `insurance_reversal_debit`, validated and not saved (for `ledger_entries_insert`)."""
    _validate_amount(amount_cents)
    if charge.kind != EntryKind.CHARGE or charge.claim_id is None:
        raise ValidationError({"charge": "Only a claimed charge is reopened by a reversal."})
    return LedgerEntry(
        patient_id=charge.patient_id,
        kind=EntryKind.CHARGE,
        transaction_type=charge.transaction_type,
        payment_status=PaymentStatus.PENDING_INSURANCE,
        amount_cents=amount_cents,
        currency=charge.currency,
        metadata={},
        description=description,
        service_date=charge.service_date,
        insurance_policy_id=charge.insurance_policy_id,
        claim_id=charge.claim_id,
    )


def charge_status_refresh(*, charge: LedgerEntry) -> LedgerEntry:
    """Set a charge's status from what has been applied to it (saved, and so recorded in history, on change)."""
    remaining = selectors.remaining_cents(charge)
    adjudicated = LedgerEntry.objects.filter(pk=charge.pk).values_list(_adjudicated(), flat=True).get()
    status = _charge_status(charge, remaining=remaining, adjudicated=adjudicated)
    if status != charge.payment_status:
        charge.payment_status = status
        with transaction.atomic():
            charge.save(update_fields=["payment_status", "updated_at"])
    return charge


def _adjudicated() -> ExpressionWrapper:
    """Whether insurance has answered for the charge of the outer query: an insurance payment or adjustment
    applied to it, or a remittance line adjudicating it, and no secondary claim of it still out with its payer."""
    charge = OuterRef("pk")
    return ExpressionWrapper(
        (
            Exists(LedgerApplication.objects.filter(target=charge, source__kind__in=INSURANCE_KINDS))
            | Exists(RemittanceLine.objects.filter(RemittanceLine.adjudicating(charge)))
        )
        & ~Exists(ClaimLine.objects.filter(ClaimLine.awaiting_secondary_payer(charge))),
        output_field=BooleanField(),
    )


def _charge_status(charge: LedgerEntry, *, remaining: int, adjudicated: bool) -> str:
    """A charge's status from what is still owed on it and whether insurance has answered for it."""
    if remaining <= 0:
        return PaymentStatus.PAID
    if charge.insurance_policy_id is not None and not adjudicated:
        return PaymentStatus.PENDING_INSURANCE
    if charge.payment_status == PaymentStatus.FAILED:
        # A failed installment stays on the follow-up list until it is settled, even when partly paid.
        return PaymentStatus.FAILED
    return PaymentStatus.PATIENT_DUE


def charge_statuses_refresh(*, charge_ids: Iterable[Any]) -> None:
    """`charge_status_refresh` for many charges in a few statements: one read of what is owed and adjudicated,
    then `charge_statuses_set`."""
    charges = LedgerEntry.objects.filter(pk__in=id_set(charge_ids)).annotate(adjudicated=_adjudicated())
    charge_statuses_set(charges=[(c, c.open_cents, c.adjudicated) for c in charges])


def charge_statuses_set(*, charges: Sequence[tuple[LedgerEntry, int, bool]]) -> None:
    """Set the status of many charges from (charge, cents still owed, adjudicated by insurance), as
    `charge_status_refresh` sets one: one UPDATE per new status, the history rows of the changed ones in bulk. The
    caller knows what is owed (it has the charges locked and applied to them) and whether insurance answered."""
    changed: dict[str, list[LedgerEntry]] = defaultdict(list)
    for charge, remaining, adjudicated in charges:
        status = _charge_status(charge, remaining=remaining, adjudicated=adjudicated)
        if status != charge.payment_status:
            charge.payment_status = status
            changed[status].append(charge)
    bulk.rows_update(LedgerEntry, [charge for rows in changed.values() for charge in rows], ["payment_status"])


def id_set(ids: Iterable[Any]) -> RawSQL:
    """For `pk__in` (or any id `__in`) with thousands of ids: one array parameter, unnested, which PostgreSQL joins
    by index; an IN list of thousands of parameters is searched row by row when the planner scans the table."""
    return RawSQL("SELECT unnest(%s::uuid[])", [sorted(set(ids), key=str)])


def insurance_credit_entry(
    *,
    patient_id: Any,
    kind: str,
    amount_cents: int,
    currency: str,
    allocations: Sequence[Allocation],
    metadata: dict[str, Any],
    received_on: dt.date | None,
    external_reference: str = "",
    payer_id: Any = None,
) -> LedgerEntry:
    """An insurance payment or adjustment applied whole to `allocations` (an 835's), validated as `payment_post`
    validates one and not saved: for `ledger_entries_insert`, which writes many at once. The caller has locked
    the charges and checked what is open on them."""
    if kind not in INSURANCE_KINDS:
        raise ValidationError({"kind": "Use insurance_payment or adjustment."})
    _validate_amount(amount_cents)
    _validate_currency(currency)
    if payer_id is not None and kind != EntryKind.INSURANCE_PAYMENT:
        raise ValidationError({"payer": "Only an insurance payment names a payer."})
    if received_on is not None and received_on > timezone.localdate():
        raise ValidationError({"received_on": "Must not be in the future."})
    for allocation in allocations:
        charge = allocation.charge
        if charge.kind != EntryKind.CHARGE or charge.patient_id != patient_id:
            raise ValidationError({"allocations": "Apply only to charges of this patient."})
        if charge.currency != currency:
            raise ValidationError({"currency": "A payment and the charges it settles must use one currency."})
    if sum(a.amount_cents for a in allocations) != amount_cents:
        raise ValidationError({"amount_cents": "The allocations must make up the amount."})
    return LedgerEntry(
        patient_id=patient_id,
        kind=kind,
        transaction_type=str(_credit_transaction_type(allocations, given=None)),
        payment_status=PaymentStatus.PAID,
        amount_cents=amount_cents,
        currency=currency,
        metadata=codes.credit_metadata(metadata),
        service_date=received_on or timezone.localdate(),
        external_reference=external_reference,
        payer_id=payer_id,
    )


def insurance_references_taken(*, references: Iterable[tuple[Any, Any, str]]) -> bool:
    """Whether any of these insurance payment references (payer, patient, reference) was posted already, in one
    query (`payment_reference_taken` for many; the unique constraint holds them under races)."""
    wanted = set(references)
    if not wanted:
        return False
    posted = LedgerEntry.objects.for_current_organization().filter(
        kind=EntryKind.INSURANCE_PAYMENT, external_reference__in=sorted({ref for _, _, ref in wanted})
    )
    return any(row in wanted for row in posted.values_list("payer_id", "patient_id", "external_reference"))


def ledger_entries_insert(
    *, entries: Sequence[LedgerEntry], applications: Sequence[tuple[LedgerEntry, LedgerEntry, int]]
) -> None:
    """Insert new ledger entries (built by `insurance_credit_entry`, `reversal_debit_entry`) and the applications
    (credit, charge, cents) between them and existing charges in bulk, with their history rows and outbox events:
    a handful of statements for a whole remittance. The database's triggers check each application as they
    check one posted alone (over-application, currency, patient)."""
    rows = [
        LedgerApplication(source=credit, target=charge, amount_cents=amount) for credit, charge, amount in applications
    ]
    try:
        with transaction.atomic():
            bulk.rows_insert(LedgerEntry, entries)
            event_record_many(
                event_type=event_types.LEDGER_ENTRY_CREATED,
                data_classification=DataClassification.GENERAL_WELLNESS,
                subjects=[(entry.pk, entry.patient_id, _ledger_event_data(entry)) for entry in entries],
            )
            bulk.rows_insert(LedgerApplication, rows)
    except IntegrityError as error:
        raise _integrity_to_validation(error) from None


def _credit_create(
    *,
    patient: Patient,
    kind: str,
    amount_cents: int,
    currency: str,
    transaction_type: str,
    allocations: Sequence[Allocation],
    metadata: dict[str, Any] | None,
    external_reference: str,
    received_on: dt.date | None,
    recorded_at: dt.datetime | None,
    status: str = PaymentStatus.PAID,
    payer: Payer | None = None,
) -> LedgerEntry:
    credit = LedgerEntry(
        patient=patient,
        kind=kind,
        transaction_type=transaction_type,
        payment_status=status,
        amount_cents=amount_cents,
        currency=currency,
        metadata=codes.credit_metadata(metadata or {}),
        service_date=received_on or timezone.localdate(),
        external_reference=external_reference,
        payer=payer,
    )
    if recorded_at is not None:
        credit.created_at = recorded_at
    # Constraints are the database's to check (the duplicate reference becomes a field error below).
    credit.full_clean(
        exclude=["organization", "patient", "insurance_policy", "installment_plan", "claim", "payer"],
        validate_constraints=False,
    )
    try:
        with transaction.atomic():
            credit.save()
            _ledger_event(credit)
            for allocation in allocations:
                application = LedgerApplication(
                    organization_id=credit.organization_id,
                    source=credit,
                    target=allocation.charge,
                    amount_cents=allocation.amount_cents,
                )
                if recorded_at is not None:
                    application.created_at = recorded_at
                application.save()
    except IntegrityError as error:
        raise _integrity_to_validation(error) from None
    for allocation in allocations:
        charge_status_refresh(charge=allocation.charge)
    return credit


def payment_post(
    *,
    patient: Patient,
    amount_cents: int,
    currency: str = "USD",
    allocations: Sequence[Allocation] = (),
    kind: str = EntryKind.PAYMENT,
    transaction_type: str | None = None,
    allow_credit: bool = False,
    metadata: dict[str, Any] | None = None,
    external_reference: str = "",
    received_on: dt.date | None = None,
    recorded_at: dt.datetime | None = None,
    payer: Payer | None = None,
) -> LedgerEntry:
    """Post a payment, insurance payment or adjustment and apply it to chosen charges of the patient.

    The whole amount must be applied unless `allow_credit` (a prepayment kept as credit; never for an
    adjustment). One payment may settle charges of every kind (a visit, a product and an installment); all share
    its currency. `received_on` is the day the money came in (today when not given); `payer` names who paid an
    insurance payment. A payment's reference (processor id, check number) is posted once.
    """
    if kind not in CREDIT_KINDS:
        raise ValidationError({"kind": "Use payment, insurance_payment or adjustment."})
    _validate_amount(amount_cents)
    _validate_currency(currency)
    if payer is not None and kind != EntryKind.INSURANCE_PAYMENT:
        raise ValidationError({"payer": "Only an insurance payment names a payer."})
    if received_on is not None and received_on > timezone.localdate():
        raise ValidationError({"received_on": "Must not be in the future."})
    if payment_reference_taken(kind=kind, external_reference=external_reference, payer=payer, patient=patient):
        raise ValidationError({"external_reference": DUPLICATE_REFERENCE_MESSAGE})
    with transaction.atomic():
        # Lock the charges first (in a fixed order): concurrent payments against one charge queue here and
        # each then sees what the previous ones applied.
        charge_ids = sorted({a.charge.pk for a in allocations}, key=str)
        locked = {c.pk: c for c in LedgerEntry.objects.select_for_update().filter(pk__in=charge_ids)}
        errors: dict[str, str] = {}
        if len(locked) != len(charge_ids):
            errors["allocations"] = "Unknown charge."
        fresh = [
            Allocation(charge=locked[a.charge.pk], amount_cents=a.amount_cents)
            for a in allocations
            if a.charge.pk in locked
        ]
        requested: dict[Any, int] = {}
        for index, allocation in enumerate(fresh):
            charge = allocation.charge
            try:
                _validate_amount(allocation.amount_cents, field=f"allocations[{index}].amount_cents")
            except ValidationError as error:
                raise ValidationError(error.message_dict) from None
            if charge.kind != EntryKind.CHARGE or charge.patient_id != patient.pk:
                errors["allocations"] = "Apply only to charges of this patient."
            elif charge.currency != currency:
                errors["currency"] = "A payment and the charges it settles must use one currency."
            requested[charge.pk] = requested.get(charge.pk, 0) + allocation.amount_cents
        if errors:
            raise ValidationError(errors)
        for charge_id, amount in requested.items():
            if amount > locked[charge_id].open_cents:
                raise ValidationError({"allocations": "More than what is owed on a charge."})
        applied_total = sum(requested.values())
        if applied_total > amount_cents:
            raise ValidationError({"allocations": "The allocations exceed the payment amount."})
        if applied_total < amount_cents and (not allow_credit or kind == EntryKind.ADJUSTMENT):
            raise ValidationError(
                {"amount_cents": "More than what is applied to charges; post the remainder as credit on purpose."}
            )
        entry_type = _credit_transaction_type(fresh, given=transaction_type)
        if entry_type not in TransactionType.values:
            raise ValidationError({"transaction_type": "Give the transaction type of an unapplied credit."})
        return _credit_create(
            patient=patient,
            kind=kind,
            amount_cents=amount_cents,
            currency=currency,
            transaction_type=str(entry_type),
            allocations=fresh,
            metadata=metadata,
            external_reference=external_reference,
            received_on=received_on,
            recorded_at=recorded_at,
            payer=payer,
        )


def _credit_transaction_type(allocations: Sequence[Allocation], *, given: str | None) -> str | None:
    """The transaction type a credit is filed under: that of the charges it settles when they share one; for a
    payment across kinds, the type given for its unapplied remainder, else the kind it pays most of (the
    applications say what each part settled)."""
    shares: dict[str, int] = {}
    for allocation in allocations:
        kind = allocation.charge.transaction_type
        shares[kind] = shares.get(kind, 0) + allocation.amount_cents
    if len(shares) == 1:
        return next(iter(shares))
    if given or not shares:
        return given
    order = list(TransactionType.values)
    return max(shares, key=lambda kind: (shares[kind], -order.index(kind)))


def payment_reference_taken(*, kind: str, external_reference: str, payer: Payer | None, patient: Patient) -> bool:
    """Whether a payment with this reference was posted already (the unique constraints hold it under races)."""
    if not external_reference or kind not in (EntryKind.PAYMENT, EntryKind.INSURANCE_PAYMENT):
        return False
    posted = LedgerEntry.objects.for_current_organization().filter(kind=kind, external_reference=external_reference)
    if kind == EntryKind.PAYMENT:
        return posted.exclude(payment_status=PaymentStatus.FAILED).exists()
    return posted.filter(payer=payer, patient=patient).exists()


def credit_apply(*, credit: LedgerEntry, allocations: Sequence[Allocation]) -> list[LedgerApplication]:
    """Apply a payment's unapplied credit to charges of the same patient and currency, of any kind."""
    with transaction.atomic():
        credit = LedgerEntry.objects.select_for_update().get(pk=credit.pk)
        if (
            credit.kind not in (EntryKind.PAYMENT, EntryKind.INSURANCE_PAYMENT)
            or credit.payment_status == PaymentStatus.FAILED
        ):
            raise ValidationError({"credit": "Only a settled payment's credit can be applied."})
        created: list[LedgerApplication] = []
        for index, allocation in enumerate(allocations):
            _validate_amount(allocation.amount_cents, field=f"allocations[{index}].amount_cents")
            charge = LedgerEntry.objects.select_for_update().get(pk=allocation.charge.pk)
            application = LedgerApplication(
                organization_id=credit.organization_id,
                source=credit,
                target=charge,
                amount_cents=allocation.amount_cents,
            )
            try:
                with transaction.atomic():
                    application.save()
            except IntegrityError as error:
                raise _integrity_to_validation(error) from None
            charge_status_refresh(charge=charge)
            created.append(application)
        return created


def refund_create(
    *,
    payment: LedgerEntry,
    amount_cents: int,
    metadata: dict[str, Any] | None = None,
    external_reference: str = "",
    recorded_at: dt.datetime | None = None,
) -> LedgerEntry:
    """Return unapplied credit of a payment to the patient (the refund is applied to that payment)."""
    _validate_amount(amount_cents)
    with transaction.atomic():
        payment = LedgerEntry.objects.select_for_update().get(pk=payment.pk)
        if payment.kind not in (EntryKind.PAYMENT, EntryKind.INSURANCE_PAYMENT):
            raise ValidationError({"payment": "Refund a payment."})
        if amount_cents > payment.open_cents:
            raise ValidationError({"amount_cents": "More than the payment's unapplied credit."})
        refund = LedgerEntry(
            patient_id=payment.patient_id,
            kind=EntryKind.REFUND,
            transaction_type=payment.transaction_type,
            payment_status=PaymentStatus.PAID,
            amount_cents=amount_cents,
            currency=payment.currency,
            metadata=codes.credit_metadata(metadata or {}),
            service_date=timezone.localdate(),
            external_reference=external_reference,
        )
        if recorded_at is not None:
            refund.created_at = recorded_at
        try:
            with transaction.atomic():
                refund.save()
                _ledger_event(refund)
                application = LedgerApplication(
                    organization_id=refund.organization_id, source=refund, target=payment, amount_cents=amount_cents
                )
                if recorded_at is not None:
                    application.created_at = recorded_at
                application.save()
        except IntegrityError as error:
            raise _integrity_to_validation(error) from None
        return refund


# --- payers, policies, provider ------------------------------------------------------------------------------


def _save(instance: Any, exclude: Sequence[str] = ("organization",)) -> Any:
    instance.full_clean(exclude=list(exclude))
    try:
        instance.validate_constraints()
    except ValidationError as error:
        raise ValidationError({"__all__": error.messages}) from None
    with transaction.atomic():
        instance.save()
    return instance


def payer_create(*, name: str, payer_id: str, insurance_type: str = InsuranceType.COMMERCIAL) -> Payer:
    """Register a payer (insurance company) for the active organization."""
    return _save(Payer(name=name, payer_id=payer_id, insurance_type=insurance_type))


def insurance_policy_create(
    *,
    patient: Patient,
    payer: Payer,
    member_id: str,
    group_number: str = "",
    subscriber_relationship: str = InsurancePolicy.Relationship.SELF,
    subscriber_given_name: str = "",
    subscriber_family_name: str = "",
    priority: str = InsurancePolicy.Priority.PRIMARY,
    insurance_type: str = "",
    address_line1: str = "",
    city: str = "",
    state: str = "",
    postal_code: str = "",
) -> InsurancePolicy:
    """Record a patient's coverage with a payer."""
    if not member_id or len(member_id) > 80 or not member_id.isalnum():
        raise ValidationError({"member_id": "Use 1-80 letters or digits."})
    if subscriber_relationship != InsurancePolicy.Relationship.SELF and not (
        subscriber_given_name and subscriber_family_name
    ):
        raise ValidationError({"subscriber_family_name": "Name the subscriber when the patient is not the subscriber."})
    policy = InsurancePolicy(
        patient=patient,
        payer=payer,
        member_id=member_id,
        group_number=group_number,
        subscriber_relationship=subscriber_relationship,
        subscriber_given_name=subscriber_given_name,
        subscriber_family_name=subscriber_family_name,
        priority=priority,
        insurance_type=insurance_type,
        address_line1=address_line1,
        city=city,
        state=state,
        postal_code=postal_code,
    )
    return _save(policy, exclude=("organization", "patient", "payer"))


def billing_provider_save(**fields: Any) -> BillingProvider:
    """Create or change the organization's billing provider data."""
    provider = BillingProvider.objects.for_current_organization().first() or BillingProvider()
    for name, value in fields.items():
        setattr(provider, name, value)
    return _save(provider)


# --- installment plans ---------------------------------------------------------------------------------------


def installment_plan_create(
    *,
    patient: Patient,
    program: str,
    total_cents: int,
    installment_count: int,
    first_due_date: dt.date,
    currency: str = "USD",
    interval_days: int = 30,
    external_reference: str = "",
    recorded_at: dt.datetime | None = None,
) -> InstallmentPlan:
    """A program paid in installments: the plan and one ledger charge per installment (due dates spaced)."""
    _validate_amount(total_cents, field="total_cents")
    _validate_currency(currency)
    if not 1 <= installment_count <= 120:
        raise ValidationError({"installment_count": "From 1 to 120 installments."})
    if total_cents < installment_count:
        raise ValidationError({"total_cents": "Too small for that many installments."})
    if not 1 <= interval_days <= 366:
        raise ValidationError({"interval_days": "From 1 to 366 days."})
    try:
        first_due_date + dt.timedelta(days=interval_days * (installment_count - 1))
    except OverflowError:
        raise ValidationError(
            {"first_due_date": "Date out of range: the last installment would fall after year 9999."}
        ) from None
    plan = InstallmentPlan(
        patient=patient,
        program=program,
        total_cents=total_cents,
        currency=currency,
        installment_count=installment_count,
        first_due_date=first_due_date,
        interval_days=interval_days,
        external_reference=external_reference,
    )
    if recorded_at is not None:
        plan.created_at = recorded_at
    with transaction.atomic():
        _save(plan, exclude=("organization", "patient"))
        base, remainder = divmod(total_cents, installment_count)
        for number in range(1, installment_count + 1):
            # The remainder cents go on the first installment so the schedule sums to the total exactly.
            charge_create(
                patient=patient,
                transaction_type=TransactionType.PROGRAM_ENROLLMENT,
                amount_cents=base + (remainder if number == 1 else 0),
                currency=currency,
                service_date=first_due_date + dt.timedelta(days=interval_days * (number - 1)),
                metadata={"program": program, "installment_number": number, "total_installments": installment_count},
                description=f"{program}: installment {number} of {installment_count}",
                installment_plan=plan,
                recorded_at=recorded_at,
            )
    return plan


def installment_payment_record(
    *,
    charge: LedgerEntry,
    succeeded: bool,
    external_reference: str,
    amount_cents: int | None = None,
    recorded_at: dt.datetime | None = None,
) -> LedgerEntry:
    """Record the card processor's outcome for one installment: a payment applied to it, or a failed attempt.

    A failed attempt is kept as a `failed` payment entry (it settles nothing) and marks the installment
    `failed`, which lists it for follow-up until it is paid.
    """
    if charge.installment_plan_id is None or charge.kind != EntryKind.CHARGE:
        raise ValidationError({"charge": "Not an installment charge."})
    outstanding = selectors.remaining_cents(charge)
    if outstanding <= 0:
        raise ValidationError({"charge": "This installment is already paid."})
    amount = amount_cents if amount_cents is not None else outstanding
    if succeeded:
        return payment_post(
            patient=charge.patient,
            amount_cents=amount,
            currency=charge.currency,
            allocations=[Allocation(charge=charge, amount_cents=amount)],
            metadata={"method": "card"},
            external_reference=external_reference,
            recorded_at=recorded_at,
        )
    _validate_amount(amount)
    with transaction.atomic():
        attempt = _credit_create(
            patient=charge.patient,
            kind=EntryKind.PAYMENT,
            amount_cents=amount,
            currency=charge.currency,
            transaction_type=charge.transaction_type,
            allocations=(),
            metadata={"method": "card", "note": "Payment attempt failed."},
            external_reference=external_reference,
            received_on=None,
            recorded_at=recorded_at,
            status=PaymentStatus.FAILED,
        )
        charge = LedgerEntry.objects.select_for_update().get(pk=charge.pk)
        if charge.payment_status != PaymentStatus.PAID:
            charge.payment_status = PaymentStatus.FAILED
            charge.save(update_fields=["payment_status", "updated_at"])
        event_record(
            event_type=event_types.INSTALLMENT_FAILED,
            subject_id=charge.pk,
            patient_id=charge.patient_id,
            data_classification=DataClassification.GENERAL_WELLNESS,
            data={"attempt_id": str(attempt.pk)},
        )
    return attempt
