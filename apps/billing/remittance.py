"""Posting an 835 remittance: per claim (CLP01 = CLM01) and per service line (REF*6R = the line's control number,
else the line of the same procedure, modifiers and service date), in the one transaction of the import:

* the payment of each claim is one insurance payment applied to its lines (reference: the check or EFT trace
  number and the claim; the payer and the date paid in its note and date);
* contractual (CO), other (OA) and payer-initiated (PI) adjustments are one adjustment entry per claim, group
  and CARC, applied to the lines, its reason code the group and CARC ("CO-45");
* patient responsibility (PR: deductible, coinsurance, copay) is not posted: it stays owed on the charge, which
  the remittance line adjudicates, so it becomes patient due;
* a denied line (the claim denied, CLP02 4, or a line paid nothing with a CO, OA or PI adjustment) posts nothing:
  it goes to the denial queue (`Denial`) with its CARC and RARC codes, its charge still waiting for insurance;
* a reversal (CLP02 22) takes back every posting of the claim: a debit per line of what was paid and adjusted
  (`RemittanceLine`), the claim accepted again, waiting for the payer's new answer; its open denials resolved;
* provider-level adjustments (PLB) are recorded per file (`ProviderAdjustment`), not on patients' ledgers;
* on a secondary claim, the secondary payer's OA-23 (the primary payer's payment and adjustments, posted by the
  primary's remittance) is not posted again;
* the claim becomes paid (every line posted), partly paid (some) or denied (none posted, some denied), with the
  payer's claim control number (CLP07).

Claims and lines that match nothing of the organization, or cannot take the answer, go to the unmatched work
queue (`UnmatchedRemittance`) and post nothing. Amounts are whole cents; a negative amount is refused except on
a reversal, and the payment total (BPR02) must equal the claims' payments less the provider-level adjustments.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from . import claims, services
from .models import (
    Claim,
    ClaimLine,
    ClaimStatus,
    ClearinghouseFile,
    Denial,
    EntryKind,
    LedgerEntry,
    ProviderAdjustment,
    RemittanceLine,
    RemittanceLineKind,
    UnmatchedRemittance,
)

if TYPE_CHECKING:
    from .x12_answers import Segment

ADJUSTMENT_GROUPS = ("CO", "OA", "PI")
PATIENT_GROUP = "PR"
PRIOR_PAYER_IMPACT = ("OA", "23")  # CARC 23: the impact of prior payers' adjudication
DENIED, REVERSAL = "4", "22"
MAX_CENTS = 100_000_000_00
# The claims a remittance may answer: sent and accepted ones, and adjudicated ones not fully paid (the rest of a
# partly paid claim, a denial overturned on appeal). A paid claim takes a new answer after a reversal.
ANSWERABLE = (ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED, ClaimStatus.PARTLY_PAID, ClaimStatus.DENIED)
REVERSIBLE = (ClaimStatus.PAID, ClaimStatus.PARTLY_PAID, ClaimStatus.DENIED)
Reason = UnmatchedRemittance.Reason


def cents(value: str, *, field: str = "amount", signed: bool = False) -> int:
    """An X12 decimal amount as cents; refused when it is negative (unless `signed`), fractional beyond cents or
    too large."""
    try:
        amount = Decimal(value or "0")
    except InvalidOperation:
        raise ValidationError({"file": f"The {field} amount is not a number."}) from None
    if not amount.is_finite():
        raise ValidationError({"file": f"The {field} amount is not a number."})
    if (amount < 0 and not signed) or amount != amount.quantize(Decimal("0.01")) or abs(amount) * 100 > MAX_CENTS:
        raise ValidationError({"file": f"The {field} amount is negative, has more than two decimals or is too large."})
    return int(amount * 100)


@dataclass
class _Line:
    procedure: str
    modifiers: tuple[str, ...]
    charge: int
    paid: int
    control_number: str = ""
    service_date: dt.date | None = None
    adjustments: list[tuple[str, str, int]] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)

    def total(self, groups: Sequence[str]) -> int:
        return sum(amount for group, _, amount in self.adjustments if group in groups)

    @property
    def codes(self) -> list[str]:
        return [f"{group}-{reason}" for group, reason, _ in self.adjustments]


@dataclass
class _ClaimRemit:
    claim_id: str
    status: str
    charge: int
    paid: int
    payer_claim_control_number: str
    lines: list[_Line] = field(default_factory=list)
    adjustments: list[tuple[str, str, int]] = field(default_factory=list)  # claim-level CAS
    remarks: list[str] = field(default_factory=list)  # MOA


@dataclass
class _ProviderAdjustment:
    provider_identifier: str
    fiscal_period_end: dt.date
    reason_code: str
    reference: str
    amount: int


@dataclass
class Header:
    """The payment an 835 reports: its trace number and payer, total, method and date."""

    trace_number: str = ""
    trace_originator: str = ""
    payer_name: str = ""
    total: int = 0
    paid_on: dt.date | None = None


def _date(value: str, *, field: str) -> dt.date:
    try:
        return dt.datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise ValidationError({"file": f"The {field} date is not a date (CCYYMMDD)."}) from None


def header(parsed: Sequence[Segment]) -> Header:
    """The 835's payment: BPR (total, date), TRN (trace number and its originator), N1*PR (payer)."""
    out = Header()
    for segment in parsed:
        if segment.id == "BPR":
            out.total = cents(segment.element(2), field="payment total")
            if segment.element(16):
                out.paid_on = _date(segment.element(16), field="payment")
        elif segment.id == "TRN" and not out.trace_number:
            out.trace_number, out.trace_originator = segment.element(2), segment.element(3)
        elif segment.id == "N1" and segment.element(1) == "PR" and not out.payer_name:
            out.payer_name = segment.element(2)[:60]
    return out


def _adjustments(segment: Segment, *, signed: bool) -> list[tuple[str, str, int]]:
    # CAS repeats reason, amount, quantity up to six times after its group code.
    group = segment.element(1)
    return [
        (group, segment.element(index), cents(segment.element(index + 1), field="adjustment", signed=signed))
        for index in range(2, 19, 3)
        if segment.element(index)
    ]


def _read(parsed: Sequence[Segment]) -> tuple[list[_ClaimRemit], list[_ProviderAdjustment]]:
    """The remittance's claims with their lines, and its provider-level adjustments."""
    component = parsed[0].element(16) or ":"
    remits: list[_ClaimRemit] = []
    plbs: list[_ProviderAdjustment] = []
    line: _Line | None = None
    for segment in parsed:
        if segment.id == "CLP":
            signed = segment.element(2) == REVERSAL
            remits.append(
                _ClaimRemit(
                    claim_id=segment.element(1),
                    status=segment.element(2),
                    charge=cents(segment.element(3), field="claim charge", signed=signed),
                    paid=cents(segment.element(4), field="claim payment", signed=signed),
                    payer_claim_control_number=segment.element(7),
                )
            )
            line = None
        elif segment.id == "MOA" and remits:
            remits[-1].remarks += [code for code in segment.elements[2:7] if code]
        elif segment.id == "SVC" and remits:
            signed = remits[-1].status == REVERSAL
            procedure = segment.element(1).split(component)
            line = _Line(
                procedure=procedure[1] if len(procedure) > 1 else "",
                modifiers=tuple(m for m in procedure[2:6] if m),
                charge=cents(segment.element(2), field="line charge", signed=signed),
                paid=cents(segment.element(3), field="line payment", signed=signed),
            )
            remits[-1].lines.append(line)
        elif segment.id == "CAS" and remits:
            found = _adjustments(segment, signed=remits[-1].status == REVERSAL)
            if line is None:
                remits[-1].adjustments += found
            else:
                line.adjustments += found
        elif segment.id == "DTM" and line is not None and segment.element(1) in ("472", "150"):
            line.service_date = _date(segment.element(2), field="service")
        elif segment.id == "REF" and segment.element(1) == "6R" and line is not None:
            line.control_number = segment.element(2)
        elif segment.id == "LQ" and segment.element(1) == "HE" and line is not None:
            line.remarks.append(segment.element(2))
        elif segment.id == "PLB":
            line = None
            for index in range(3, 14, 2):
                if not segment.element(index):
                    continue
                reason, _, reference = segment.element(index).partition(component)
                plbs.append(
                    _ProviderAdjustment(
                        provider_identifier=segment.element(1),
                        fiscal_period_end=_date(segment.element(2), field="provider adjustment"),
                        reason_code=reason,
                        reference=reference[:50],
                        amount=cents(segment.element(index + 1), field="provider adjustment", signed=True),
                    )
                )
    return remits, plbs


class _Poster:
    """Posts one 835 file's claims for the active organization."""

    def __init__(self, *, file: ClearinghouseFile, head: Header) -> None:
        self.file = file
        self.head = head
        self.totals: dict[str, int] = defaultdict(int)
        # Payments posted per claim in this file: a claim answered twice in one file (paid again after its
        # reversal) gets a second reference, as a reference is posted once per payer and patient.
        self.payments_per_claim: Counter[str] = Counter()
        self.outcome: dict[str, Any] = {
            "paid": [],
            "partly_paid": [],
            "denied": [],
            "reversed": [],
            "unmatched_claims": [],
            "unmatched_lines": [],
        }

    # --- the queues ----------------------------------------------------------------------------------------

    def unmatched(self, remit: _ClaimRemit, reason: str, *, claim: Claim | None, lines: Sequence[_Line] = ()) -> None:
        """Claim (or these lines of it) into the unmatched work queue."""
        rows: list[_Line | None] = [*(lines or remit.lines)] or [None]
        for line in rows:
            UnmatchedRemittance.objects.create(
                file=self.file,
                claim=claim,
                submitter_claim_id=remit.claim_id[:38],
                control_number=(line.control_number if line else "")[:50],
                procedure=(" ".join((line.procedure, *line.modifiers)) if line else "")[:60],
                service_date=line.service_date if line else None,
                charge_cents=abs(line.charge if line else remit.charge),
                paid_cents=abs(line.paid if line else remit.paid),
                reason=reason,
            )
        if lines:
            self.outcome["unmatched_lines"] += [line.control_number or remit.claim_id for line in lines]
        else:
            self.outcome["unmatched_claims"].append(remit.claim_id)

    # --- one claim -----------------------------------------------------------------------------------------

    def claim(self, remit: _ClaimRemit) -> None:
        claim = (
            Claim.objects.for_current_organization()
            .select_for_update()
            .filter(submitter_claim_id=remit.claim_id)
            .first()
        )
        if claim is None:
            self.unmatched(remit, Reason.NO_CLAIM, claim=None)
        elif remit.status == REVERSAL:
            self.reverse(claim, remit)
        elif claim.status not in ANSWERABLE:
            self.unmatched(remit, Reason.CLAIM_CLOSED, claim=claim)
        else:
            self.post(claim, remit)

    def _match(self, claim: Claim, remit: _ClaimRemit) -> tuple[list[tuple[ClaimLine, _Line]], list[_Line]]:
        """Each remittance line with its claim line: by control number (REF*6R), else by procedure, modifiers and
        date among the lines not matched yet."""
        lines = list(ClaimLine.objects.filter(claim=claim).select_related("charge").order_by("line_number"))
        by_number = {line.control_number: line for line in lines}
        taken: set[Any] = set()
        matched: list[tuple[ClaimLine, _Line]] = []
        missing: list[_Line] = []
        for remit_line in remit.lines:
            found = by_number.get(remit_line.control_number) if remit_line.control_number else None
            if found is None or found.pk in taken:
                found = next(
                    (
                        line
                        for line in lines
                        if line.pk not in taken
                        and line.charge.metadata.get("cpt_code") == remit_line.procedure
                        and tuple(line.charge.metadata.get("modifiers", [])) == remit_line.modifiers
                        and line.charge.service_date == (remit_line.service_date or claim.service_date)
                    ),
                    None,
                )
            if found is None:
                missing.append(remit_line)
            else:
                taken.add(found.pk)
                matched.append((found, remit_line))
        return matched, missing

    def post(self, claim: Claim, remit: _ClaimRemit) -> None:
        if claim.primary_claim_id is not None:
            # A secondary payer's OA-23 is what the primary payer already paid and adjusted: posted by the primary's
            # remittance, not again.
            for remit_line in remit.lines:
                remit_line.adjustments = [a for a in remit_line.adjustments if (a[0], a[1]) != PRIOR_PAYER_IMPACT]
        if remit.status != DENIED and any(amount for group, _, amount in remit.adjustments if group != PATIENT_GROUP):
            self.unmatched(remit, Reason.CLAIM_ADJUSTMENT, claim=claim)
            return
        if not remit.lines and remit.status == DENIED:
            # A claim denied as a whole: every line of it.
            remit.lines = [
                _Line(
                    procedure=line.charge.metadata.get("cpt_code", ""),
                    modifiers=tuple(line.charge.metadata.get("modifiers", [])),
                    charge=line.charge.amount_cents,
                    paid=0,
                    control_number=line.control_number,
                    service_date=line.charge.service_date,
                )
                for line in ClaimLine.objects.filter(claim=claim).select_related("charge").order_by("line_number")
            ]
        matched, missing = self._match(claim, remit)
        if missing:
            self.unmatched(remit, Reason.NO_LINE, claim=claim, lines=missing)
        answered = set(
            RemittanceLine.objects.filter(
                claim=claim, kind=RemittanceLineKind.POSTING, reversed_by__isnull=True
            ).values_list("claim_line_id", flat=True)
        )
        already = [remit_line for claim_line, remit_line in matched if claim_line.pk in answered]
        if already:
            self.unmatched(remit, Reason.ALREADY_ANSWERED, claim=claim, lines=already)
        matched = [(claim_line, line) for claim_line, line in matched if claim_line.pk not in answered]
        denied = [(c, line) for c, line in matched if remit.status == DENIED or _denied(line)]
        posted = [(c, line) for c, line in matched if not (remit.status == DENIED or _denied(line))]
        now = timezone.now()
        for claim_line, line in denied:
            # The payer's latest answer is the one to work: an earlier denial of the line is superseded.
            Denial.objects.filter(claim_line=claim_line, resolved_at=None).update(resolved_at=now)
            Denial.objects.create(
                file=self.file,
                claim=claim,
                claim_line=claim_line,
                amount_cents=line.charge,
                reason_codes=line.codes or [f"{g}-{r}" for g, r, _ in remit.adjustments],
                remark_codes=[*line.remarks, *remit.remarks],
                adjustments=_stored(line.adjustments),
                claim_adjustments=_stored(remit.adjustments),
            )
        if posted:
            self._post_lines(claim, remit, posted, now=now)
        if not matched:
            return
        if claim.status == ClaimStatus.SUBMITTED:
            claim = claims.claim_status_set(claim=claim, status=ClaimStatus.ACCEPTED)
        target = _claim_outcome(claim)
        if target is not None and target != claim.status:
            claims.claim_status_set(
                claim=claim, status=target, payer_claim_control_number=remit.payer_claim_control_number
            )
        if target is not None:
            self.outcome[target].append(remit.claim_id)

    def _post_lines(self, claim: Claim, remit: _ClaimRemit, posted: list[tuple[ClaimLine, _Line]], *, now: Any) -> None:
        # What each line owes now: its charge, and the debits of earlier reversals of it (those first).
        reversals: dict[Any, list[RemittanceLine]] = {claim_line.pk: [] for claim_line, _ in posted}
        for reversal in (
            RemittanceLine.objects.filter(
                claim_line__in=list(reversals), kind=RemittanceLineKind.REVERSAL, debit__isnull=False
            )
            .select_related("debit")
            .order_by("created_at")
        ):
            reversals[reversal.claim_line_id].append(reversal)
        items: dict[Any, list[LedgerEntry]] = {
            claim_line.pk: [*(r.debit for r in reversals[claim_line.pk] if r.debit), claim_line.charge]
            for claim_line, _ in posted
        }
        open_cents = {entry.pk: entry.open_cents for entries in items.values() for entry in entries}
        touched: set[Any] = set()  # entries the payment or an adjustment applies to (which refresh their status)

        def allocate(claim_line: ClaimLine, amount: int) -> list[services.Allocation]:
            out = []
            for entry in items[claim_line.pk]:
                take = min(amount, open_cents[entry.pk])
                if take:
                    touched.add(entry.pk)
                    out.append(services.Allocation(charge=entry, amount_cents=take))
                    open_cents[entry.pk] -= take
                    amount -= take
            if amount:
                raise ValidationError({"allocations": "More than what is owed on a charge."})
            return out

        for claim_line, line in posted:
            RemittanceLine.objects.create(
                file=self.file,
                claim=claim,
                claim_line=claim_line,
                charge=claim_line.charge,
                claim_status_code=remit.status,
                paid_cents=line.paid,
                adjusted_cents=line.total(ADJUSTMENT_GROUPS),
                patient_cents=line.total((PATIENT_GROUP,)),
                adjustments=_stored(line.adjustments),
                claim_adjustments=_stored(remit.adjustments),
            )
        # The debits of earlier reversals are adjudicated from now on; the lines' open denials are answered.
        reopened = [r.pk for found in reversals.values() for r in found if r.reposted_at is None]
        if reopened:
            RemittanceLine.objects.filter(pk__in=reopened).update(reposted_at=now)
        Denial.objects.filter(claim_line__in=[claim_line for claim_line, _ in posted], resolved_at=None).update(
            resolved_at=now
        )
        note = (
            f"835 {self.head.trace_number} from {self.head.payer_name or 'the payer'}, claim {claim.submitter_claim_id}"
        )
        paid = [a for claim_line, line in posted if line.paid for a in allocate(claim_line, line.paid)]
        if paid:
            total = sum(a.amount_cents for a in paid)
            self.payments_per_claim[claim.submitter_claim_id] += 1
            nth = self.payments_per_claim[claim.submitter_claim_id]
            reference = f"{self.head.trace_number}/{claim.submitter_claim_id}" + (f"/{nth}" if nth > 1 else "")
            services.payment_post(
                patient=claim.patient,
                kind=EntryKind.INSURANCE_PAYMENT,
                amount_cents=total,
                currency=claim.currency,
                allocations=paid,
                metadata={"method": "insurance", "note": note},
                external_reference=reference[:100],
                received_on=self.head.paid_on,
                payer=claim.payer,
            )
            self.totals["paid"] += total
        # One adjustment entry per group and reason code (CO-45, OA-23, PI-96, ...), applied to the lines it names.
        by_reason: dict[tuple[str, str], list[services.Allocation]] = defaultdict(list)
        for claim_line, line in posted:
            for group, reason, amount in line.adjustments:
                if group in ADJUSTMENT_GROUPS and amount:
                    by_reason[(group, reason)] += allocate(claim_line, amount)
                elif group == PATIENT_GROUP:
                    self.totals[PATIENT_GROUP] += amount
        for (group, reason), allocations in by_reason.items():
            total = sum(a.amount_cents for a in allocations)
            services.payment_post(
                patient=claim.patient,
                kind=EntryKind.ADJUSTMENT,
                amount_cents=total,
                currency=claim.currency,
                allocations=allocations,
                metadata={"reason_code": f"{group}-{reason}", "note": note},
                received_on=self.head.paid_on,
            )
            self.totals[group] += total
        # A line the payer left to the patient with nothing paid or adjusted is adjudicated all the same.
        for entries in items.values():
            for entry in entries:
                if entry.pk not in touched:
                    services.charge_status_refresh(charge=entry)

    def reverse(self, claim: Claim, remit: _ClaimRemit) -> None:
        postings = list(
            RemittanceLine.objects.filter(claim=claim, kind=RemittanceLineKind.POSTING, reversed_by__isnull=True)
            .select_related("charge", "claim_line")
            .order_by("created_at")
        )
        open_denials = Denial.objects.filter(claim=claim, resolved_at=None)
        if claim.status not in REVERSIBLE or not (postings or open_denials.exists()):
            self.unmatched(remit, Reason.NOTHING_TO_REVERSE, claim=claim)
            return
        if -remit.paid != sum(p.paid_cents for p in postings):
            self.unmatched(remit, Reason.REVERSAL_DIFFERS, claim=claim)
            return
        now = timezone.now()
        for posting in postings:
            settled = posting.paid_cents + posting.adjusted_cents
            debit = (
                services.insurance_reversal_debit(
                    charge=posting.charge,
                    amount_cents=settled,
                    description=f"Insurance reversal, claim {claim.submitter_claim_id}",
                )
                if settled
                else None
            )
            reversal = RemittanceLine.objects.create(
                file=self.file,
                claim=claim,
                claim_line=posting.claim_line,
                charge=posting.charge,
                kind=RemittanceLineKind.REVERSAL,
                claim_status_code=remit.status,
                paid_cents=posting.paid_cents,
                adjusted_cents=posting.adjusted_cents,
                patient_cents=posting.patient_cents,
                debit=debit,
            )
            posting.reversed_by = reversal
            posting.save(update_fields=["reversed_by", "updated_at"])
            self.totals["reversed"] += settled
        open_denials.update(resolved_at=now)
        for posting in postings:
            # A posting that left it all to the patient no longer adjudicates the charge.
            services.charge_status_refresh(charge=posting.charge)
        claims.claim_status_set(claim=claim, status=ClaimStatus.ACCEPTED)
        self.outcome["reversed"].append(remit.claim_id)


def _stored(adjustments: Sequence[tuple[str, str, int]]) -> list[list[Any]]:
    """Adjustments as kept on a remittance line or denial: [group, CARC, cents] each, in the payer's order."""
    return [[group, reason, amount] for group, reason, amount in adjustments]


def _denied(line: _Line) -> bool:
    """A line paid nothing that the payer adjusted (not only to the patient): a denial to work."""
    return line.paid == 0 and line.total(ADJUSTMENT_GROUPS) > 0


def _claim_outcome(claim: Claim) -> str | None:
    """Paid (every line posted), partly paid (some), denied (none posted, some denied), or None (no answer)."""
    lines = set(ClaimLine.objects.filter(claim=claim).values_list("pk", flat=True))
    posted = set(
        RemittanceLine.objects.filter(
            claim=claim, kind=RemittanceLineKind.POSTING, reversed_by__isnull=True
        ).values_list("claim_line_id", flat=True)
    )
    if posted == lines:
        return ClaimStatus.PAID
    if posted:
        return ClaimStatus.PARTLY_PAID
    if Denial.objects.filter(claim=claim, resolved_at=None).exists():
        return ClaimStatus.DENIED
    return None


def apply_835(parsed: Sequence[Segment], *, file: ClearinghouseFile) -> dict[str, Any]:
    """Post a validated 835 for the active organization (inside the import's transaction)."""
    head = header(parsed)
    remits, plbs = _read(parsed)
    if head.total != sum(r.paid for r in remits) - sum(p.amount for p in plbs):
        raise ValidationError(
            {"file": "The payment total (BPR02) is not the claims' payments less the provider-level adjustments."}
        )
    file.payer_name, file.payment_cents, file.paid_on = head.payer_name, head.total, head.paid_on
    poster = _Poster(file=file, head=head)
    for plb in plbs:
        ProviderAdjustment.objects.create(
            file=file,
            provider_identifier=plb.provider_identifier[:50],
            fiscal_period_end=plb.fiscal_period_end,
            reason_code=plb.reason_code[:2],
            reference=plb.reference,
            amount_cents=plb.amount,
        )
        poster.totals["PLB"] += plb.amount
    for remit in remits:
        poster.claim(remit)
    poster.outcome["posted_cents"] = dict(poster.totals)
    return poster.outcome
