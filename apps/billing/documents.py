"""Superbills, receipts and patient statements: the figures (from the ledger), their HTML and their PDF.

Each builder returns a plain dict for the template; the totals are computed from the document's own lines, and
the tests check them against the SQL balance for the same patient and period.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.template.loader import render_to_string
from django.utils import timezone
from xhtml2pdf import pisa

from apps.codes import icd10cm_description
from apps.patients import phi_reads
from apps.patients.models import Patient, PHIAccessLog

from .models import (
    BillingProvider,
    EntryKind,
    InsurancePolicy,
    LedgerApplication,
    LedgerEntry,
    PaymentStatus,
    TransactionType,
)
from .selectors import cutoff_for, patient_balance, patients_owing

# A statement is due this many days after it is issued.
STATEMENT_TERMS_DAYS = 30


def default_period(today: dt.date) -> tuple[dt.date, dt.date]:
    """The period a superbill or statement opens on: the last full month and this one so far (a statement sent
    early in a month still shows last month's visits)."""
    first_of_last_month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    return first_of_last_month, today


def _insurance(patient: Patient) -> list[dict[str, Any]]:
    """The patient's active coverage as a printed document shows it: payer, plan type, member id masked."""
    policies = InsurancePolicy.objects.for_current_organization().filter(patient=patient, is_active=True)
    return [
        {
            "priority": policy.get_priority_display(),
            "payer": policy.payer.name,
            "payer_id": policy.payer.payer_id,
            "insurance_type": policy.get_insurance_type_display() or policy.payer.get_insurance_type_display(),
            "member_id": policy.member_id_masked,
            "group_number": policy.group_number,
            "relationship": policy.get_subscriber_relationship_display(),
        }
        for policy in policies.select_related("payer").order_by("priority")
    ]


def check_period(date_from: dt.date, date_to: dt.date) -> None:
    """Refuse a period that runs backwards or touches the ends of the calendar (field errors)."""
    # A period is read with its day before (the opening balance) and the end of its last day.
    if date_from <= dt.date.min:
        raise ValidationError({"date_from": "Must be after 0001-01-01."})
    if date_to >= dt.date.max:
        raise ValidationError({"date_to": "Must be before 9999-12-31."})
    if date_from > date_to:
        raise ValidationError({"date_from": "Must not be after date_to."})


def _applied_by_target(entries: list[LedgerEntry]) -> dict[Any, int]:
    rows = LedgerApplication.objects.filter(target__in=entries).values("target_id").annotate(total=Sum("amount_cents"))
    return {row["target_id"]: int(row["total"]) for row in rows}


def superbill(*, patient: Patient, date_from: dt.date, date_to: dt.date, currency: str = "USD") -> dict[str, Any]:
    """Clinical services of a patient in a period: provider, diagnoses, CPT lines, fees, payments, balance."""
    check_period(date_from, date_to)
    charges = list(
        LedgerEntry.objects.for_current_organization()
        .filter(
            kind=EntryKind.CHARGE,
            patient=patient,
            transaction_type=TransactionType.CLINICAL_SERVICE,
            currency=currency,
            service_date__range=(date_from, date_to),
        )
        .order_by("service_date", "created_at")
    )
    applied = _applied_by_target(charges)
    # The patient's name beside diagnoses and procedures: the whole document is one PHI read.
    phi_reads.mark(record_type=PHIAccessLog.RecordType.BILLING_DOCUMENT, patient_ids=[patient.pk])
    diagnoses: list[str] = []
    lines = []
    for charge in charges:
        codes = charge.metadata.get("diagnosis_codes", [])
        for code in codes:
            if code not in diagnoses:
                diagnoses.append(code)
        pointers = [codes[p - 1] for p in charge.metadata.get("diagnosis_pointers", [1]) if p <= len(codes)]
        paid = applied.get(charge.pk, 0)
        lines.append(
            {
                "date": charge.service_date,
                "cpt_code": charge.metadata.get("cpt_code", ""),
                "modifiers": charge.metadata.get("modifiers", []),
                "units": charge.metadata.get("units", 1),
                "pointers": [diagnoses.index(code) + 1 for code in pointers],
                "description": charge.description,
                "fee_cents": charge.amount_cents,
                "paid_cents": paid,
                "balance_cents": charge.amount_cents - paid,
            }
        )
    return {
        "title": "Superbill",
        "provider": BillingProvider.objects.for_current_organization().first(),
        "patient": patient,
        "date_from": date_from,
        "date_to": date_to,
        "currency": currency,
        "diagnoses": diagnoses,
        "diagnosis_rows": [{"code": code, "description": icd10cm_description(code)} for code in diagnoses],
        "insurance": _insurance(patient),
        "lines": lines,
        "total_fee_cents": sum(line["fee_cents"] for line in lines),
        "total_paid_cents": sum(line["paid_cents"] for line in lines),
        "balance_cents": sum(line["balance_cents"] for line in lines),
    }


def receipt(*, payment: LedgerEntry) -> dict[str, Any]:
    """What a payment paid for (retail and program payments) and what remains on those charges."""
    if payment.kind not in (EntryKind.PAYMENT, EntryKind.INSURANCE_PAYMENT) or payment.payment_status == (
        PaymentStatus.FAILED
    ):
        raise ValidationError({"payment": "A receipt is for a settled payment."})
    applications = list(
        LedgerApplication.objects.filter(source=payment).select_related("target").order_by("created_at")
    )
    charges = [a.target for a in applications]
    phi_reads.mark(
        record_type=PHIAccessLog.RecordType.LEDGER_ENTRY,
        patient_ids=[charge.patient_id for charge in charges if charge.carries_phi],
    )
    applied = _applied_by_target(charges)
    lines = [
        {
            "description": a.target.description or a.target.get_transaction_type_display(),
            "metadata": a.target.metadata,
            "charge_cents": a.target.amount_cents,
            "applied_cents": a.amount_cents,
            "remaining_cents": a.target.amount_cents - applied.get(a.target.pk, 0),
        }
        for a in applications
    ]
    refunded = int(LedgerApplication.objects.filter(target=payment).aggregate(t=Sum("amount_cents"))["t"] or 0)
    applied_total = sum(line["applied_cents"] for line in lines)
    return {
        "title": "Receipt",
        "provider": BillingProvider.objects.for_current_organization().first(),
        "patient": payment.patient,
        "payment": payment,
        "currency": payment.currency,
        "lines": lines,
        "applied_cents": applied_total,
        "refunded_cents": refunded,
        "credit_cents": payment.amount_cents - applied_total - refunded,
        "total_cents": payment.amount_cents,
    }


def signed_amount(entry: LedgerEntry) -> int:
    """An entry's effect on what the patient owes: charges and refunds add, settled credits subtract."""
    if entry.kind in (EntryKind.CHARGE, EntryKind.REFUND):
        return entry.amount_cents
    if entry.payment_status == PaymentStatus.FAILED:
        return 0
    return -entry.amount_cents


def statement(
    *,
    patient: Patient,
    date_from: dt.date,
    date_to: dt.date,
    currency: str = "USD",
    issued_on: dt.date | None = None,
) -> dict[str, Any]:
    """Opening balance, the period's activity with a running balance, closing balance (net of credit); then what
    the patient owes now apart from what insurance still owes, the due date, and a remittance slip."""
    check_period(date_from, date_to)
    opening = patient_balance(patient_id=patient.pk, currency=currency, as_of=date_from - dt.timedelta(days=1)).net
    entries = (
        LedgerEntry.objects.for_current_organization()
        .filter(
            patient=patient,
            currency=currency,
            created_at__gte=cutoff_for(date_from - dt.timedelta(days=1)),
            created_at__lt=cutoff_for(date_to),
        )
        .order_by("created_at", "id")
    )
    phi_reads.mark(record_type=PHIAccessLog.RecordType.BILLING_DOCUMENT, patient_ids=[patient.pk])
    running = opening
    activity = []
    for entry in entries:
        running += signed_amount(entry)
        activity.append(
            {
                "date": timezone.localtime(entry.created_at).date(),
                "kind": entry.get_kind_display(),
                "description": entry.description or entry.get_transaction_type_display(),
                "status": entry.get_payment_status_display(),
                "amount_cents": signed_amount(entry),
                "balance_cents": running,
            }
        )
    closing = patient_balance(patient_id=patient.pk, currency=currency, as_of=date_to)
    issued = issued_on or timezone.localdate()
    return {
        "title": "Patient statement",
        "provider": BillingProvider.objects.for_current_organization().first(),
        "patient": patient,
        "date_from": date_from,
        "date_to": date_to,
        "currency": currency,
        "opening_cents": opening,
        "activity": activity,
        "closing_cents": running,
        # The closing balance split: the patient's own share now (net of their credit), and what is still with
        # insurance (not asked of the patient until it answers).
        "patient_due_cents": max(closing.patient_due - closing.credit, 0),
        "insurance_pending_cents": closing.insurance_pending,
        "credit_cents": max(closing.credit - closing.patient_due, 0),
        "issued_on": issued,
        "due_date": issued + dt.timedelta(days=STATEMENT_TERMS_DAYS),
    }


def statement_batch(*, date_from: dt.date, date_to: dt.date, issued_on: dt.date | None = None) -> dict[str, Any]:
    """A statement for every patient who owes something themselves as of the period's end, largest first."""
    check_period(date_from, date_to)
    statements = [
        statement(patient=row.patient, date_from=date_from, date_to=date_to, currency=row.currency, issued_on=issued_on)
        for row in patients_owing(as_of=date_to)
    ]
    return {
        "title": "Patient statements",
        "date_from": date_from,
        "date_to": date_to,
        "statements": statements,
        "total_due_cents": sum(doc["patient_due_cents"] for doc in statements),
    }


TEMPLATES = {
    "Superbill": "billing/superbill.html",
    "Receipt": "billing/receipt.html",
    "Patient statements": "billing/statement_batch.html",
}


def render_html(document: dict[str, Any], *, csp_nonce: str = "") -> str:
    """The document's page; `csp_nonce` lets its inline style (shared with the PDF) pass the page's CSP."""
    template = TEMPLATES.get(document["title"], "billing/statement.html")
    return render_to_string(template, {**document, "csp_nonce": csp_nonce})


def render_pdf(document: dict[str, Any]) -> bytes:
    """The same HTML as a PDF (xhtml2pdf: pure Python, no system libraries)."""
    out = io.BytesIO()
    result = pisa.CreatePDF(render_html(document), dest=out, encoding="utf-8")
    if result.err:
        raise RuntimeError("The PDF could not be rendered.")
    return out.getvalue()
