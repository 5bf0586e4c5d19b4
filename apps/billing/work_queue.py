"""The billing desk's work queue: what billing staff have to act on, one selector per source.

Each source is one function returning its items (newest or most urgent first); `work_queue()` counts them and
keeps the first few of each for the desk's home page. A new source (the denial queue with its CARC/RARC codes,
the remittance lines the 835 posting could not match) is one function added to `SOURCES`, with the map's action
that lets a role see it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, Q, QuerySet
from django.urls import reverse

from apps.organizations.access_map import Resource

from .models import Claim, ClaimStatus, ClearinghouseFile
from .permissions import CLAIM, CLEARINGHOUSE_FILE, INSTALLMENT_PLAN, LEDGER
from .selectors import claim_list, failed_installments, patients_owing

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


def denials() -> tuple[int, list[QueueItem]]:
    """Denied claims to work. The denial queue of the 835 posting (each denial with its CARC/RARC codes) takes
    this source's place when it lands: replace this function's body, keep its name and shape."""
    claims = _claims(ClaimStatus.DENIED)
    return claims.count(), [_claim_item(c) for c in claims[:SHOWN_PER_SOURCE]]


def unmatched_remittance_lines() -> tuple[int, list[QueueItem]]:
    """Claims and lines of imported 835s that matched nothing of ours. Read from each import's outcome until the
    835 posting keeps an unmatched-line queue of its own: replace this function's body then."""
    files = (
        ClearinghouseFile.objects.for_current_organization()
        .filter(kind=ClearinghouseFile.Kind.REMITTANCE_835)
        .filter(~Q(outcome__unmatched_claims=[]) | ~Q(outcome__unmatched_lines=[]))
        .order_by("-created_at")
    )
    items = []
    for remittance in files:
        url = reverse("admin:billing_clearinghousefile_change", args=[remittance.pk])
        for key, label in (("unmatched_claims", "Claim"), ("unmatched_lines", "Line")):
            for reference in remittance.outcome.get(key) or []:
                items.append(
                    QueueItem(
                        date=remittance.created_at.date(),
                        title=f"{label} {reference}",
                        detail=f"Not matched in {remittance}",
                        url=url,
                    )
                )
    return len(items), items[:SHOWN_PER_SOURCE]


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
    Source("denials", "Denials", denials, (CLAIM, "read")),
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
