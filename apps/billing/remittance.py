"""Posting an 835 remittance: per claim (CLP01 = CLM01) and per service line (REF*6R = the line's control
number), the insurance payment, the payer's adjustments by group and CARC, and the patient's responsibility.

In the one transaction of the import:
* the payment of each claim is one insurance payment applied to its lines' charges (reference: the check or
  EFT trace number);
* contractual (CO), other (OA) and payer-initiated (PI) adjustments are one adjustment entry per claim, group
  and CARC, applied to the lines, its reason code the group and CARC ("CO-45");
* patient responsibility (PR: deductible, coinsurance, copay) is not posted: it stays owed on the charge,
  which becomes patient due;
* the claim becomes paid (every line answered, whatever the patient still owes), partly paid (some lines not in
  the remittance) or denied (CLP02 4), with the payer's claim control number (CLP07).
Claims and lines that match nothing of the organization are listed in the file's outcome and nothing is posted
for them. Reversals (CLP02 22) and provider-level adjustments (PLB) are listed as not applied.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError

from . import claims, services
from .models import Claim, ClaimLine, ClaimStatus, EntryKind, LedgerEntry, PaymentStatus

if TYPE_CHECKING:
    from .x12_answers import Segment

ADJUSTMENT_GROUPS = ("CO", "OA", "PI")
DENIED, REVERSAL = "4", "22"
MAX_CENTS = 100_000_000_00


def cents(value: str, *, field: str = "amount") -> int:
    """An X12 decimal amount as cents; refused when it is negative, fractional beyond cents or too large."""
    try:
        amount = Decimal(value or "0")
    except InvalidOperation:
        raise ValidationError({"file": f"The {field} amount is not a number."}) from None
    if amount < 0 or amount != amount.quantize(Decimal("0.01")) or amount * 100 > MAX_CENTS:
        raise ValidationError({"file": f"The {field} amount is negative, has more than two decimals or is too large."})
    return int(amount * 100)


class _Line:
    def __init__(self, control_number: str) -> None:
        self.control_number = control_number
        self.paid = 0
        self.adjustments: list[tuple[str, str, int]] = []


class _ClaimRemit:
    def __init__(self, clp: Segment) -> None:
        self.claim_id = clp.element(1)
        self.status = clp.element(2)
        self.payer_claim_control_number = clp.element(7)
        self.lines: list[_Line] = []
        self.paid = cents(clp.element(4), field="claim payment")


def _read(parsed: Sequence[Segment]) -> tuple[list[_ClaimRemit], int]:
    """The remittance's claims and lines, and how many provider-level adjustments (PLB) it carries."""
    remits: list[_ClaimRemit] = []
    line: _Line | None = None
    plb = 0
    for segment in parsed:
        if segment.id == "CLP":
            remits.append(_ClaimRemit(segment))
            line = None
        elif segment.id == "SVC" and remits:
            line = _Line("")
            line.paid = cents(segment.element(3), field="line payment")
            remits[-1].lines.append(line)
        elif segment.id == "CAS" and line is not None:
            group = segment.element(1)
            # CAS repeats reason, amount, quantity up to six times.
            for index in range(2, 19, 3):
                reason = segment.element(index)
                if reason:
                    line.adjustments.append((group, reason, cents(segment.element(index + 1), field="adjustment")))
        elif segment.id == "REF" and segment.element(1) == "6R" and line is not None:
            line.control_number = segment.element(2)
        elif segment.id == "PLB":
            plb += 1
    return remits, plb


def _post(claim: Claim, matched: list[tuple[LedgerEntry, _Line]], *, trace: str, received: Any) -> dict[str, int]:
    """Post one claim's payment and adjustments to its charges; returns the cents posted by kind."""
    patient = claim.patient
    posted: dict[str, int] = defaultdict(int)
    note = f"835 {trace}, claim {claim.submitter_claim_id}"
    paid = [services.Allocation(charge=charge, amount_cents=line.paid) for charge, line in matched if line.paid]
    if paid:
        total = sum(a.amount_cents for a in paid)
        services.payment_post(
            patient=patient,
            kind=EntryKind.INSURANCE_PAYMENT,
            amount_cents=total,
            currency=claim.currency,
            allocations=paid,
            metadata={"method": "insurance", "note": note},
            external_reference=f"{trace}/{claim.submitter_claim_id}"[:100],
            received_on=received,
        )
        posted["paid"] += total
    # One adjustment entry per group and reason code (CO-45, OA-23, PI-96, ...), applied to the lines it names.
    by_reason: dict[tuple[str, str], list[services.Allocation]] = defaultdict(list)
    for charge, line in matched:
        for group, reason, amount in line.adjustments:
            if group in ADJUSTMENT_GROUPS and amount:
                by_reason[(group, reason)].append(services.Allocation(charge=charge, amount_cents=amount))
    for (group, reason), allocations in by_reason.items():
        total = sum(a.amount_cents for a in allocations)
        services.payment_post(
            patient=patient,
            kind=EntryKind.ADJUSTMENT,
            amount_cents=total,
            currency=claim.currency,
            allocations=allocations,
            metadata={"reason_code": f"{group}-{reason}", "note": note},
            received_on=received,
        )
        posted[group] += total
    for charge, line in matched:
        if any(g == "PR" for g, _, _ in line.adjustments):
            posted["PR"] += sum(c for g, _, c in line.adjustments if g == "PR")
            charge.refresh_from_db()
            if charge.payment_status == PaymentStatus.PENDING_INSURANCE:
                # Adjudicated with nothing paid or written off (a deductible): all of it is the patient's now.
                charge.payment_status = PaymentStatus.PATIENT_DUE
                charge.save(update_fields=["payment_status", "updated_at"])
    return posted


def apply_835(parsed: Sequence[Segment]) -> dict[str, Any]:
    """Post a validated 835 for the active organization (inside the import's transaction)."""
    trn = next((s for s in parsed if s.id == "TRN"), None)
    trace = trn.element(2) if trn else ""
    bpr = next((s for s in parsed if s.id == "BPR"), None)
    received: dt.date | None = None
    if bpr is not None and len(bpr.element(16)) == 8:
        received = dt.datetime.strptime(bpr.element(16), "%Y%m%d").date()
    remits, plb = _read(parsed)
    outcome: dict[str, Any] = {
        "paid": [],
        "partly_paid": [],
        "denied": [],
        "unmatched_claims": [],
        "unmatched_lines": [],
        "not_applied": [],
        "posted_cents": {},
    }
    if plb:
        outcome["not_applied"].append(f"{plb} provider-level adjustment(s) (PLB)")
    totals: dict[str, int] = defaultdict(int)
    for remit in remits:
        claim = (
            Claim.objects.for_current_organization()
            .select_related("patient")
            .filter(submitter_claim_id=remit.claim_id)
            .first()
        )
        if claim is None:
            outcome["unmatched_claims"].append(remit.claim_id)
            continue
        if remit.status == REVERSAL:
            outcome["not_applied"].append(f"{remit.claim_id}: reversal (CLP02 22)")
            continue
        if claim.status not in (ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED):
            outcome["not_applied"].append(f"{remit.claim_id}: claim is {claim.status}")
            continue
        lines = {line.control_number: line for line in ClaimLine.objects.filter(claim=claim).select_related("charge")}
        matched: list[tuple[LedgerEntry, _Line]] = []
        for line in remit.lines:
            claim_line = lines.get(line.control_number)
            if claim_line is None:
                outcome["unmatched_lines"].append(line.control_number or remit.claim_id)
            else:
                matched.append((claim_line.charge, line))
        for kind, amount in _post(claim, matched, trace=trace, received=received).items():
            totals[kind] += amount
        if claim.status == ClaimStatus.SUBMITTED:
            claims.claim_status_set(claim=claim, status=ClaimStatus.ACCEPTED)
        answered = {line.control_number for _, line in matched}
        if remit.status == DENIED:
            target = ClaimStatus.DENIED
        elif answered == set(lines):
            target = ClaimStatus.PAID
        else:
            target = ClaimStatus.PARTLY_PAID
        claims.claim_status_set(claim=claim, status=target, payer_claim_control_number=remit.payer_claim_control_number)
        outcome[target].append(remit.claim_id)
    outcome["posted_cents"] = dict(totals)
    return outcome
