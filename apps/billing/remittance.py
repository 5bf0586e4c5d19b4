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

import copy
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.organizations import bulk

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
    """Posts one 835 file's claims for the active organization, set-based: the claims, lines, postings and
    denials the file may touch are read (and the claims and charges locked) in a few queries, each claim is
    answered in memory in the file's order, and what it posts is written at the end in bulk (`write`), with its
    history rows and outbox events. The statements a file costs do not grow with its claims."""

    def __init__(self, *, file: ClearinghouseFile, head: Header, remits: Sequence[_ClaimRemit]) -> None:
        self.file = file
        self.head = head
        self.now = timezone.now()
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
        # What the file writes, in bulk at the end.
        self.entries: list[LedgerEntry] = []
        self.applications: list[tuple[LedgerEntry, LedgerEntry, int]] = []
        self.new_remittance_lines: list[RemittanceLine] = []
        self.changed_remittance_lines: dict[Any, RemittanceLine] = {}
        self.new_denials: list[Denial] = []
        self.resolved_denials: dict[Any, Denial] = {}
        self.unmatched_rows: list[UnmatchedRemittance] = []
        self.claim_steps: list[Claim] = []
        # Charges whose status follows from what the file did: answered by a posting (adjudicated, what is open
        # known here), or their posting reversed (read again from the database).
        self.answered: dict[Any, LedgerEntry] = {}
        self.refresh: set[Any] = set()
        self._load(remits)

    # --- reading what the file may touch -------------------------------------------------------------------

    def _load(self, remits: Sequence[_ClaimRemit]) -> None:
        ids = sorted({remit.claim_id for remit in remits})
        self.claims = {
            claim.submitter_claim_id: claim
            for claim in Claim.objects.for_current_organization()
            .select_for_update()
            .filter(submitter_claim_id__in=ids)
            .order_by("pk")
        }
        claim_ids = [claim.pk for claim in self.claims.values()]
        self.lines: dict[Any, list[ClaimLine]] = defaultdict(list)
        for line in ClaimLine.objects.filter(claim_id__in=services.id_set(claim_ids)).order_by(
            "claim_id", "line_number"
        ):
            self.lines[line.claim_id].append(line)
        # Per claim line: its postings not reversed (one at most), and its reversals' debits, oldest first.
        self.posting: dict[Any, RemittanceLine] = {}
        self.reversals: dict[Any, list[RemittanceLine]] = defaultdict(list)
        for row in RemittanceLine.objects.filter(claim_id__in=services.id_set(claim_ids)).order_by("created_at"):
            if row.kind == RemittanceLineKind.POSTING and row.reversed_by_id is None:
                self.posting[row.claim_line_id] = row
            elif row.kind == RemittanceLineKind.REVERSAL and row.debit_id is not None:
                self.reversals[row.claim_line_id].append(row)
        # The charges and reversal debits payments may settle, locked (in a fixed order) as `payment_post` locks
        # them, with what is open on them now.
        entry_ids = {line.charge_id for lines in self.lines.values() for line in lines} | {
            row.debit_id for rows in self.reversals.values() for row in rows
        }
        self.ledger: dict[Any, LedgerEntry] = {
            entry.pk: entry
            for entry in LedgerEntry.objects.select_for_update()
            .filter(pk__in=services.id_set(entry_ids))
            .order_by("pk")
        }
        for lines in self.lines.values():
            for line in lines:
                line.charge = self.ledger[line.charge_id]
        self.open_cents = {pk: entry.open_cents for pk, entry in self.ledger.items()}
        self.denials: dict[Any, list[Denial]] = defaultdict(list)  # open denials per claim line
        for denial in Denial.objects.filter(claim_id__in=services.id_set(claim_ids), resolved_at=None).order_by(
            "created_at"
        ):
            self.denials[denial.claim_line_id].append(denial)

    # --- the queues ----------------------------------------------------------------------------------------

    def unmatched(self, remit: _ClaimRemit, reason: str, *, claim: Claim | None, lines: Sequence[_Line] = ()) -> None:
        """Claim (or these lines of it) into the unmatched work queue."""
        rows: list[_Line | None] = [*(lines or remit.lines)] or [None]
        for line in rows:
            self.unmatched_rows.append(
                UnmatchedRemittance(
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
            )
        if lines:
            self.outcome["unmatched_lines"] += [line.control_number or remit.claim_id for line in lines]
        else:
            self.outcome["unmatched_claims"].append(remit.claim_id)

    def _resolve_denials(self, claim_line_ids: Sequence[Any]) -> None:
        for claim_line_id in claim_line_ids:
            for denial in self.denials.pop(claim_line_id, []):
                denial.resolved_at = self.now
                if not denial._state.adding:
                    self.resolved_denials[denial.pk] = denial

    def _status(self, claim: Claim, status: str, payer_claim_control_number: str = "") -> None:
        claims.claim_status_change(claim=claim, status=status, payer_claim_control_number=payer_claim_control_number)
        self.claim_steps.append(copy.copy(claim))

    # --- one claim -----------------------------------------------------------------------------------------

    def claim(self, remit: _ClaimRemit) -> None:
        claim = self.claims.get(remit.claim_id)
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
        lines = self.lines[claim.pk]
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
                for line in self.lines[claim.pk]
            ]
        matched, missing = self._match(claim, remit)
        if missing:
            self.unmatched(remit, Reason.NO_LINE, claim=claim, lines=missing)
        already = [remit_line for claim_line, remit_line in matched if claim_line.pk in self.posting]
        if already:
            self.unmatched(remit, Reason.ALREADY_ANSWERED, claim=claim, lines=already)
        matched = [(claim_line, line) for claim_line, line in matched if claim_line.pk not in self.posting]
        denied = [(c, line) for c, line in matched if remit.status == DENIED or _denied(line)]
        posted = [(c, line) for c, line in matched if not (remit.status == DENIED or _denied(line))]
        for claim_line, line in denied:
            # The payer's latest answer is the one to work: an earlier denial of the line is superseded.
            self._resolve_denials([claim_line.pk])
            denial = Denial(
                file=self.file,
                claim=claim,
                claim_line=claim_line,
                amount_cents=line.charge,
                reason_codes=line.codes or [f"{g}-{r}" for g, r, _ in remit.adjustments],
                remark_codes=[*line.remarks, *remit.remarks],
                adjustments=_stored(line.adjustments),
                claim_adjustments=_stored(remit.adjustments),
            )
            self.new_denials.append(denial)
            self.denials[claim_line.pk].append(denial)
        if posted:
            self._post_lines(claim, remit, posted)
        if not matched:
            return
        if claim.status == ClaimStatus.SUBMITTED:
            self._status(claim, ClaimStatus.ACCEPTED)
        target = self._claim_outcome(claim)
        if target is not None and target != claim.status:
            self._status(claim, target, remit.payer_claim_control_number)
        if target is not None:
            self.outcome[target].append(remit.claim_id)

    def _allocate(self, entries: list[LedgerEntry], amount: int) -> list[services.Allocation]:
        """`amount` applied to these entries in order, each up to what is open on it."""
        out = []
        for entry in entries:
            take = min(amount, self.open_cents[entry.pk])
            if take:
                out.append(services.Allocation(charge=entry, amount_cents=take))
                self.open_cents[entry.pk] -= take
                amount -= take
        if amount:
            raise ValidationError({"allocations": "More than what is owed on a charge."})
        return out

    def _credit(
        self, claim: Claim, kind: str, allocations: list[services.Allocation], metadata: dict[str, str], **extra: Any
    ) -> int:
        total = sum(a.amount_cents for a in allocations)
        credit = services.insurance_credit_entry(
            patient_id=claim.patient_id,
            kind=kind,
            amount_cents=total,
            currency=claim.currency,
            allocations=allocations,
            metadata=metadata,
            received_on=self.head.paid_on,
            **extra,
        )
        self.entries.append(credit)
        self.applications += [(credit, a.charge, a.amount_cents) for a in allocations]
        return total

    def _post_lines(self, claim: Claim, remit: _ClaimRemit, posted: list[tuple[ClaimLine, _Line]]) -> None:
        # What each line owes now: the debits of earlier reversals of it (those first), and its charge.
        items: dict[Any, list[LedgerEntry]] = {
            claim_line.pk: [*(self.ledger[r.debit_id] for r in self.reversals[claim_line.pk]), claim_line.charge]
            for claim_line, _ in posted
        }
        for claim_line, line in posted:
            row = RemittanceLine(
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
            self.new_remittance_lines.append(row)
            self.posting[claim_line.pk] = row
            # The debits of earlier reversals are adjudicated from now on.
            for reversal in self.reversals[claim_line.pk]:
                if reversal.reposted_at is None:
                    reversal.reposted_at = self.now
                    if not reversal._state.adding:
                        self.changed_remittance_lines[reversal.pk] = reversal
        # The lines' open denials are answered.
        self._resolve_denials([claim_line.pk for claim_line, _ in posted])
        note = (
            f"835 {self.head.trace_number} from {self.head.payer_name or 'the payer'}, claim {claim.submitter_claim_id}"
        )
        paid = [a for claim_line, line in posted if line.paid for a in self._allocate(items[claim_line.pk], line.paid)]
        if paid:
            self.payments_per_claim[claim.submitter_claim_id] += 1
            nth = self.payments_per_claim[claim.submitter_claim_id]
            reference = f"{self.head.trace_number}/{claim.submitter_claim_id}" + (f"/{nth}" if nth > 1 else "")
            self.totals["paid"] += self._credit(
                claim,
                EntryKind.INSURANCE_PAYMENT,
                paid,
                {"method": "insurance", "note": note},
                external_reference=reference[:100],
                payer_id=claim.payer_id,
            )
        # One adjustment entry per group and reason code (CO-45, OA-23, PI-96, ...), applied to the lines it names.
        by_reason: dict[tuple[str, str], list[services.Allocation]] = defaultdict(list)
        for claim_line, line in posted:
            for group, reason, amount in line.adjustments:
                if group in ADJUSTMENT_GROUPS and amount:
                    by_reason[(group, reason)] += self._allocate(items[claim_line.pk], amount)
                elif group == PATIENT_GROUP:
                    self.totals[PATIENT_GROUP] += amount
        for (group, reason), allocations in by_reason.items():
            self.totals[group] += self._credit(
                claim, EntryKind.ADJUSTMENT, allocations, {"reason_code": f"{group}-{reason}", "note": note}
            )
        # Every entry of the lines is adjudicated now, a line left all to the patient as well.
        for entries in items.values():
            for entry in entries:
                self.answered[entry.pk] = entry
                self.refresh.discard(entry.pk)

    def reverse(self, claim: Claim, remit: _ClaimRemit) -> None:
        line_ids = [line.pk for line in self.lines[claim.pk]]
        postings = sorted(
            (self.posting[pk] for pk in line_ids if pk in self.posting), key=lambda posting: posting.created_at
        )
        has_open_denials = any(self.denials.get(pk) for pk in line_ids)
        if claim.status not in REVERSIBLE or not (postings or has_open_denials):
            self.unmatched(remit, Reason.NOTHING_TO_REVERSE, claim=claim)
            return
        if -remit.paid != sum(p.paid_cents for p in postings):
            self.unmatched(remit, Reason.REVERSAL_DIFFERS, claim=claim)
            return
        for posting in postings:
            settled = posting.paid_cents + posting.adjusted_cents
            debit = None
            if settled:
                debit = services.reversal_debit_entry(
                    charge=self.ledger[posting.charge_id],
                    amount_cents=settled,
                    description=f"Insurance reversal, claim {claim.submitter_claim_id}",
                )
                self.entries.append(debit)
                self.ledger[debit.pk] = debit
                self.open_cents[debit.pk] = settled
            reversal = RemittanceLine(
                file=self.file,
                claim=claim,
                claim_line_id=posting.claim_line_id,
                charge_id=posting.charge_id,
                kind=RemittanceLineKind.REVERSAL,
                claim_status_code=remit.status,
                paid_cents=posting.paid_cents,
                adjusted_cents=posting.adjusted_cents,
                patient_cents=posting.patient_cents,
                debit=debit,
            )
            self.new_remittance_lines.append(reversal)
            if debit is not None:
                self.reversals[posting.claim_line_id].append(reversal)
            posting.reversed_by = reversal
            if not posting._state.adding:
                self.changed_remittance_lines[posting.pk] = posting
            del self.posting[posting.claim_line_id]
            self.totals["reversed"] += settled
            # A posting that left it all to the patient no longer adjudicates the charge.
            self.refresh.add(posting.charge_id)
            self.answered.pop(posting.charge_id, None)
        self._resolve_denials(line_ids)
        self._status(claim, ClaimStatus.ACCEPTED)
        self.outcome["reversed"].append(remit.claim_id)

    def _claim_outcome(self, claim: Claim) -> str | None:
        """Paid (every line posted), partly paid (some), denied (none posted, some denied), or None (no answer)."""
        line_ids = [line.pk for line in self.lines[claim.pk]]
        posted = [pk for pk in line_ids if pk in self.posting]
        if len(posted) == len(line_ids):
            return ClaimStatus.PAID
        if posted:
            return ClaimStatus.PARTLY_PAID
        if any(self.denials.get(pk) for pk in line_ids):
            return ClaimStatus.DENIED
        return None

    # --- writing -------------------------------------------------------------------------------------------

    def write(self) -> None:
        """Everything the file posts, in bulk: ledger entries and applications, remittance lines, denials, the
        unmatched queue, the claims' statuses and the charges' statuses, each with its history rows."""
        payments = [e for e in self.entries if e.kind == EntryKind.INSURANCE_PAYMENT]
        if services.insurance_references_taken(
            references=[(e.payer_id, e.patient_id, e.external_reference) for e in payments]
        ):
            raise ValidationError({"external_reference": services.DUPLICATE_REFERENCE_MESSAGE})
        services.ledger_entries_insert(entries=self.entries, applications=self.applications)
        bulk.rows_insert(RemittanceLine, self.new_remittance_lines)
        bulk.rows_update(RemittanceLine, list(self.changed_remittance_lines.values()), ["reversed_by", "reposted_at"])
        bulk.rows_insert(Denial, self.new_denials)
        bulk.rows_update(Denial, list(self.resolved_denials.values()), ["resolved_at"])
        bulk.rows_insert(UnmatchedRemittance, self.unmatched_rows)
        services.charge_statuses_set(
            charges=[(entry, self.open_cents[pk], True) for pk, entry in self.answered.items()]
        )
        claims.claims_status_save(steps=self.claim_steps)
        services.charge_statuses_refresh(charge_ids=self.refresh)


def _stored(adjustments: Sequence[tuple[str, str, int]]) -> list[list[Any]]:
    """Adjustments as kept on a remittance line or denial: [group, CARC, cents] each, in the payer's order."""
    return [[group, reason, amount] for group, reason, amount in adjustments]


def _denied(line: _Line) -> bool:
    """A line paid nothing that the payer adjusted (not only to the patient): a denial to work."""
    return line.paid == 0 and line.total(ADJUSTMENT_GROUPS) > 0


def apply_835(parsed: Sequence[Segment], *, file: ClearinghouseFile) -> dict[str, Any]:
    """Post a validated 835 for the active organization (inside the import's transaction)."""
    head = header(parsed)
    remits, plbs = _read(parsed)
    if head.total != sum(r.paid for r in remits) - sum(p.amount for p in plbs):
        raise ValidationError(
            {"file": "The payment total (BPR02) is not the claims' payments less the provider-level adjustments."}
        )
    file.payer_name, file.payment_cents, file.paid_on = head.payer_name, head.total, head.paid_on
    poster = _Poster(file=file, head=head, remits=remits)
    bulk.rows_insert(
        ProviderAdjustment,
        [
            ProviderAdjustment(
                file=file,
                provider_identifier=plb.provider_identifier[:50],
                fiscal_period_end=plb.fiscal_period_end,
                reason_code=plb.reason_code[:2],
                reference=plb.reference,
                amount_cents=plb.amount,
            )
            for plb in plbs
        ],
    )
    for plb in plbs:
        poster.totals["PLB"] += plb.amount
    for remit in remits:
        poster.claim(remit)
    poster.write()
    poster.outcome["posted_cents"] = dict(poster.totals)
    return poster.outcome
