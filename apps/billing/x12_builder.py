"""Writing a payer's 835 remittance (005010X221A1) for claims Kura sent: what the demo data posts as its payers'
answers and what the tests import. Every file it writes passes pyx12.

A remittance pays, adjusts, denies and reverses claims (`ClaimRemit`, with its lines `LineRemit`), and may carry
provider-level adjustments (`ProviderAdjustmentRemit`); when reversals take back more than the file pays, the
rest is forwarded to the next payment (PLB FB), as payers do, so the payment total (BPR02) is never negative.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

WHEN = dt.datetime(2025, 3, 3, 8, 15, tzinfo=dt.UTC)
BILLING_NPI = "1234567893"


def interchange(
    *, functional_id: str, version: str, body: list[str], control_number: int = 501, when: dt.datetime = WHEN
) -> str:
    """ISA/GS ... GE/IEA around one transaction set (ST..SE are in `body`), from the clearinghouse to Kura."""
    date8, date6, time4 = when.strftime("%Y%m%d"), when.strftime("%y%m%d"), when.strftime("%H%M")
    isa = (
        f"ISA*00*          *00*          *ZZ*{'CLEARHOUSE':<15}*ZZ*{'KURA01':<15}*{date6}*{time4}*^*00501*"
        f"{control_number:09d}*0*T*:"
    )
    gs = f"GS*{functional_id}*CLEARHOUSE*KURA01*{date8}*{time4}*{control_number}*X*{version}"
    segments = [isa, gs, *body, f"GE*1*{control_number}", f"IEA*1*{control_number:09d}"]
    return "~\n".join(segments) + "~\n"


def transaction_set(st01: str, version: str | None, inner: list[str]) -> list[str]:
    """ST ... SE around a transaction set's segments."""
    segments = [f"ST*{st01}*0001" + (f"*{version}" if version else ""), *inner]
    return [*segments, f"SE*{len(segments) + 1}*0001"]


def amount(cents: int) -> str:
    """Cents as an X12 decimal: 15000 -> "150", 4550 -> "45.5", -1 -> "-0.01"."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return sign + (str(whole) if rest == 0 else f"{whole}.{rest:02d}".rstrip("0"))


@dataclass
class LineRemit:
    """One service line of an 835 claim: what was charged and paid, its adjustments (group, CARC, cents) and
    remark codes (RARC); no control number leaves the line to be matched by procedure, modifiers and date."""

    control_number: str
    procedure: str  # "90837" or with modifiers "90837:95"
    charge_cents: int
    paid_cents: int
    adjustments: list[tuple[str, str, int]]
    service_date: dt.date = dt.date(2025, 1, 15)
    remarks: list[str] = field(default_factory=list)


@dataclass
class ClaimRemit:
    """One claim of an 835 (CLP): its CLM01, status (1 primary, 2 secondary, 4 denied, 22 reversal), the payer's
    claim control number, its lines; claim-level adjustments and remark codes (MOA) for a claim denied whole."""

    claim_id: str
    status: str
    payer_claim_control_number: str
    lines: list[LineRemit]
    adjustments: list[tuple[str, str, int]] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    charge_cents_if_no_lines: int = 0

    @property
    def charge_cents(self) -> int:
        return sum(line.charge_cents for line in self.lines) if self.lines else self.charge_cents_if_no_lines

    @property
    def paid_cents(self) -> int:
        return sum(line.paid_cents for line in self.lines)

    @property
    def patient_cents(self) -> int:
        return sum(cents for adjustments in self._adjustments() for group, _, cents in adjustments if group == "PR")

    def _adjustments(self) -> list[list[tuple[str, str, int]]]:
        return [self.adjustments, *(line.adjustments for line in self.lines)]

    def reversed(self) -> ClaimRemit:
        """The reversal (CLP02 22) of this claim's remittance: every amount negated."""
        return ClaimRemit(
            claim_id=self.claim_id,
            status="22",
            payer_claim_control_number=self.payer_claim_control_number,
            lines=[
                LineRemit(
                    control_number=line.control_number,
                    procedure=line.procedure,
                    charge_cents=-line.charge_cents,
                    paid_cents=-line.paid_cents,
                    adjustments=[(g, r, -c) for g, r, c in line.adjustments],
                    service_date=line.service_date,
                )
                for line in self.lines
            ],
            adjustments=[(g, r, -c) for g, r, c in self.adjustments],
            charge_cents_if_no_lines=-self.charge_cents_if_no_lines,
        )


@dataclass
class ProviderAdjustmentRemit:
    """A provider-level adjustment (PLB): reason (WO overpayment recovery, L6 interest, ...), a reference and the
    cents withheld (negative: added) from the payment."""

    reason: str
    reference: str
    cents: int


def _cas(group: str, adjustments: list[tuple[str, str, int]]) -> list[str]:
    """CAS segments of one group, up to six reason/amount pairs each (the quantities left empty)."""
    pairs = [f"{reason}*{amount(cents)}" for g, reason, cents in adjustments if g == group]
    return [f"CAS*{group}*" + "**".join(pairs[start : start + 6]) for start in range(0, len(pairs), 6)]


def _cas_segments(adjustments: list[tuple[str, str, int]]) -> list[str]:
    groups = list(dict.fromkeys(group for group, _, _ in adjustments))
    return [segment for group in groups for segment in _cas(group, adjustments)]


def build_835(
    claims: list[ClaimRemit],
    *,
    trace_number: str = "CHK10001",
    control_number: int = 701,
    payer_name: str = "ACME HEALTH",
    paid_on: dt.date | None = None,
    provider_adjustments: list[ProviderAdjustmentRemit] | None = None,
    when: dt.datetime = WHEN,
) -> str:
    """An 835 (005010X221A1) paid by check `trace_number`, for claims of the billing provider (NPI 1234567893)."""
    date8 = (paid_on or when.date()).strftime("%Y%m%d")
    plbs = list(provider_adjustments or [])
    total = sum(c.paid_cents for c in claims) - sum(p.cents for p in plbs)
    if total < 0:
        plbs.append(ProviderAdjustmentRemit("FB", trace_number, total))
        total = 0
    bpr = f"BPR*I*{amount(total)}*C*CHK" if total else "BPR*H*0*C*NON"
    inner = [
        f"{bpr}************{date8}",
        f"TRN*1*{trace_number}*1512345678",
        f"DTM*405*{date8}",
        f"N1*PR*{payer_name}",
        "N3*1 PAYER PLAZA",
        "N4*HARTFORD*CT*06101",
        "PER*BL*PROVIDER SERVICES*TE*8005550100",
        f"N1*PE*HARBOR FAMILY CLINIC LLC*XX*{BILLING_NPI}",
    ]
    if claims:
        inner.append("LX*1")
    for claim in claims:
        patient = amount(claim.patient_cents) if claim.patient_cents else "0"
        inner += [
            f"CLP*{claim.claim_id}*{claim.status}*{amount(claim.charge_cents)}*{amount(claim.paid_cents)}*"
            f"{patient}*12*{claim.payer_claim_control_number}",
            *_cas_segments(claim.adjustments),
            "NM1*QC*1*DOE*JANE****MI*XJ1234567",
        ]
        if claim.remarks:
            inner.append("MOA***" + "*".join(claim.remarks[:5]))
        for line in claim.lines:
            inner += [
                f"SVC*HC:{line.procedure}*{amount(line.charge_cents)}*{amount(line.paid_cents)}**1",
                f"DTM*472*{line.service_date:%Y%m%d}",
                *_cas_segments(line.adjustments),
                *([f"REF*6R*{line.control_number}"] if line.control_number else []),
                *(f"LQ*HE*{code}" for code in line.remarks),
            ]
    for start in range(0, len(plbs), 6):
        pairs = "*".join(f"{p.reason}:{p.reference}*{amount(p.cents)}" for p in plbs[start : start + 6])
        inner.append(f"PLB*{BILLING_NPI}*{when.year}1231*{pairs}")
    return interchange(
        functional_id="HP",
        version="005010X221A1",
        body=transaction_set("835", None, inner),  # the 835 guide leaves ST03 unused
        control_number=control_number,
        when=when,
    )
