"""The billing desk's work queue: what billing staff have to act on, one selector per source.

Each source is one function returning its items (newest or most urgent first); `work_queue()` counts them and
keeps the first few of each for the desk's home page. A new source is one function added to `SOURCES`, with the
map's action that lets a role see it (the denial and unmatched queues, read from remittances, are for the roles
that read clearinghouse files, as their admin lists are).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, QuerySet
from django.urls import reverse

from apps.organizations.access_map import Resource

from . import adjustment_codes
from .models import Claim, ClaimStatus, Denial, UnmatchedRemittance
from .permissions import CLAIM, CLEARINGHOUSE_FILE, INSTALLMENT_PLAN, LEDGER
from .selectors import claim_list, claims_ready_for_secondary, failed_installments, patients_owing

# How many items of each source the home page lists (the count covers them all).
SHOWN_PER_SOURCE = 10


@dataclass(frozen=True)
class QueueItem:
    """One thing to work: when it dates from, a patient or file it is about, what it is, and where to act."""

    date: dt.date | None
    title: str
    detail: str
    url: str
    patient: Any = None
    amount_cents: int | None = None
    currency: str = "USD"


@dataclass(frozen=True)
class QueueSection:
    key: str
    title: str
    count: int
    items: list[QueueItem] = field(default_factory=list)


def _claim_item(claim: Claim) -> QueueItem:
    return QueueItem(
        date=claim.service_date,
        title=claim.submitter_claim_id,
        detail=f"{claim.get_status_display()} · {claim.payer}",
        url=reverse("admin:billing_claim_change", args=[claim.pk]),
        patient=claim.patient,
        amount_cents=claim.total_cents,
        currency=claim.currency,
    )


def _claims(status: str) -> QuerySet[Claim]:
    return claim_list(status=status).select_related("patient", "payer")


def claims_ready() -> tuple[int, list[QueueItem]]:
    """Claims ready to send in the next 837P batch."""
    claims = _claims(ClaimStatus.READY)
    return claims.count(), [_claim_item(c) for c in claims[:SHOWN_PER_SOURCE]]


def claims_rejected() -> tuple[int, list[QueueItem]]:
    """Claims the clearinghouse or payer rejected (999, 277CA): to fix and send again."""
    claims = _claims(ClaimStatus.REJECTED)
    return claims.count(), [_claim_item(c) for c in claims[:SHOWN_PER_SOURCE]]


def claims_for_secondary() -> tuple[int, list[QueueItem]]:
    """Claims the primary payer has adjudicated whose patient has a secondary policy: the secondary payer is
    to be billed (the claim's "Create secondary claim" action)."""
    claims = claims_ready_for_secondary().select_related("patient", "payer")
    return claims.count(), [_claim_item(c) for c in claims[:SHOWN_PER_SOURCE]]


def denials() -> tuple[int, list[QueueItem]]:
    """Open denials of the 835 posting (the denial queue), newest first, each with its reason codes described."""
    rows = (
        Denial.objects.for_current_organization()
        .filter(resolved_at__isnull=True)
        .select_related("claim__patient", "file")
        .order_by("-created_at")
    )
    items = [
        QueueItem(
            date=denial.file.paid_on or denial.created_at.date(),
            title=denial.claim.submitter_claim_id,
            detail="; ".join(adjustment_codes.describe_adjustment(code) for code in denial.reason_codes),
            url=reverse("admin:billing_denial_change", args=[denial.pk]),
            patient=denial.claim.patient,
            amount_cents=denial.amount_cents,
            currency=denial.claim.currency,
        )
        for denial in rows[:SHOWN_PER_SOURCE]
    ]
    return rows.count(), items


def unmatched_remittance_lines() -> tuple[int, list[QueueItem]]:
    """Open rows of the unmatched work queue: claims and lines of imported 835s that matched nothing of ours or
    could not take the answer (nothing of them was posted), the newest remittance first."""
    rows = (
        UnmatchedRemittance.objects.for_current_organization()
        .filter(resolved_at__isnull=True)
        .select_related("file")
        .order_by("-file__created_at", "submitter_claim_id", "control_number")
    )
    items = [
        QueueItem(
            date=row.service_date or row.created_at.date(),
            title=f"Claim {row.submitter_claim_id}" + (f" line {row.control_number}" if row.control_number else ""),
            detail=f"{row.get_reason_display()} · {row.file.payer_name} {row.file.trace_number}".strip(),
            url=reverse("admin:billing_unmatchedremittance_change", args=[row.pk]),
            amount_cents=row.charge_cents,
        )
        for row in rows[:SHOWN_PER_SOURCE]
    ]
    return rows.count(), items


def failed_installments_to_follow_up() -> tuple[int, list[QueueItem]]:
    """Installments whose card payment failed, until settled (partly paid ones too)."""
    charges = (
        failed_installments()
        .select_related("patient")
        .annotate(outstanding_cents=F("amount_cents") - F("applied_cents"))
    )
    items = [
        QueueItem(
            date=charge.service_date,
            title=charge.description,
            detail="Payment failed",
            url=reverse("admin:billing_installment_outcome", args=[charge.pk]),
            patient=charge.patient,
            amount_cents=charge.outstanding_cents,
            currency=charge.currency,
        )
        for charge in charges[:SHOWN_PER_SOURCE]
    ]
    return charges.count(), items


def statements_due() -> tuple[int, list[QueueItem]]:
    """Patients who owe something themselves now (insurance has answered, or it was never insurance's): each is
    sent a statement by the batch run."""
    owing = patients_owing()
    items = [
        QueueItem(
            date=None,
            title="Statement",
            detail="Patient due",
            url=reverse("admin:billing_statement", args=[row.patient.pk]),
            patient=row.patient,
            amount_cents=row.patient_due_cents,
            currency=row.currency,
        )
        for row in owing[:SHOWN_PER_SOURCE]
    ]
    return len(owing), items


@dataclass(frozen=True)
class Source:
    """A source of the queue, shown to the roles the map lets take its `access` (resource, action)."""

    key: str
    title: str
    items: Callable[[], tuple[int, list[QueueItem]]]
    access: tuple[Resource, str]


# The desk's home, in the order it shows them.
SOURCES: list[Source] = [
    Source("claims_ready", "Claims ready to send", claims_ready, (CLAIM, "read")),
    Source("rejections", "Rejected claims", claims_rejected, (CLAIM, "read")),
    Source("secondary", "Ready for secondary", claims_for_secondary, (CLAIM, "correct")),
    Source("denials", "Denials", denials, (CLEARINGHOUSE_FILE, "read")),
    Source("unmatched", "Unmatched remittance lines", unmatched_remittance_lines, (CLEARINGHOUSE_FILE, "read")),
    Source("failed_installments", "Failed installments", failed_installments_to_follow_up, (INSTALLMENT_PLAN, "read")),
    Source("statements_due", "Statements due", statements_due, (LEDGER, "statement")),
]


def work_queue(*, allowed: Callable[[Resource, str], bool]) -> list[QueueSection]:
    """Every source of the queue the caller may work (`allowed(resource, action)`), counted, with its first
    items."""
    sections = []
    for source in SOURCES:
        if allowed(*source.access):
            count, items = source.items()
            sections.append(QueueSection(key=source.key, title=source.title, count=count, items=items))
    return sections


def patients_in(sections: list[QueueSection]) -> set[Any]:
    """Ids of the patients the queue names (each one shown is a read of that patient's billing)."""
    return {item.patient.pk for section in sections for item in section.items if item.patient is not None}
