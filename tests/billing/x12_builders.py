"""The tests' own builders of a clearinghouse's and a payer's answers: 999 and 277CA (checked with pyx12 by the
tests that use them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

WHEN = dt.datetime(2025, 3, 3, 8, 15, tzinfo=dt.UTC)


def _segments(*segments: str) -> list[str]:
    return list(segments)


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


def _transaction(st01: str, version: str | None, inner: list[str]) -> list[str]:
    segments = [f"ST*{st01}*0001" + (f"*{version}" if version else ""), *inner]
    return [*segments, f"SE*{len(segments) + 1}*0001"]


def build_999(*, group_control_number: int, accepted: bool = True, control_number: int = 501) -> str:
    """A 999 acknowledging (or rejecting) the one 837P transaction of the batch with that group control number."""
    status = "A" if accepted else "R"
    inner = [
        f"AK1*HC*{group_control_number}*005010X222A1",
        "AK2*837*0001*005010X222A1",
        *([] if accepted else ["IK3*NM1*8*2010*8", "IK4*9*67*7*NPI1"]),
        "IK5*A" if accepted else "IK5*R*5",
        f"AK9*{status}*1*1*{1 if accepted else 0}",
    ]
    return interchange(
        functional_id="FA",
        version="005010X231A1",
        body=_transaction("999", "005010X231A1", inner),
        control_number=control_number,
    )


@dataclass
class ClaimAnswer:
    """One claim's status in a 277CA: category A1/A2 (accepted) or A3/A6/A7/A8 (rejected), with the payer's
    claim control number when it accepted the claim."""

    claim_id: str
    total_cents: int
    category: str = "A2"
    status_code: str = "20"
    payer_claim_control_number: str = ""
    service_date: dt.date = dt.date(2025, 1, 15)


def _amount(cents: int) -> str:
    whole, rest = divmod(cents, 100)
    return str(whole) if rest == 0 else f"{whole}.{rest:02d}".rstrip("0")


def build_277ca(answers: list[ClaimAnswer], *, control_number: int = 601) -> str:
    """A 277CA (005010X214) from the clearinghouse for claims of one billing provider."""
    date8 = WHEN.strftime("%Y%m%d")
    total = sum(a.total_cents for a in answers)
    accepted = [a for a in answers if a.category in ("A1", "A2")]
    inner = [
        f"BHT*0085*08*{control_number}*{date8}*0815*TH",
        "HL*1**20*1",
        "NM1*AY*2*EXAMPLE CLEARINGHOUSE*****46*CLEARHOUSE",
        f"TRN*1*{control_number}",
        f"DTP*050*D8*{date8}",
        f"DTP*009*D8*{date8}",
        "HL*2*1*21*1",
        "NM1*41*2*HARBOR FAMILY CLINIC LLC*****46*KURA01",
        "TRN*2*000000001",
        f"STC*A1:19*{date8}*WQ*{_amount(total)}",
        f"QTY*90*{len(accepted)}",
        f"QTY*AA*{len(answers) - len(accepted)}",
        "HL*3*2*19*1",
        "NM1*85*2*HARBOR FAMILY CLINIC LLC*****XX*1234567893",
        "TRN*1*0",
        f"STC*A1:19**WQ*{_amount(total)}",
    ]
    for number, answer in enumerate(answers, start=4):
        inner += [
            f"HL*{number}*3*PT",
            "NM1*QC*1*DOE*JANE****MI*XJ1234567",
            f"TRN*2*{answer.claim_id}",
            f"STC*{answer.category}:{answer.status_code}*{date8}*{'WQ' if answer in accepted else 'U'}*"
            f"{_amount(answer.total_cents)}",
        ]
        if answer.payer_claim_control_number:
            inner.append(f"REF*1K*{answer.payer_claim_control_number}")
        inner.append(f"DTP*472*D8*{answer.service_date:%Y%m%d}")
    return interchange(
        functional_id="HN",
        version="005010X214",
        body=_transaction("277", "005010X214", inner),
        control_number=control_number,
    )


@dataclass
class LineRemit:
    """One service line of an 835 claim: what was charged and paid, its adjustments (group, CARC, cents)."""

    control_number: str
    procedure: str
    charge_cents: int
    paid_cents: int
    adjustments: list[tuple[str, str, int]]
    service_date: dt.date = dt.date(2025, 1, 15)


@dataclass
class ClaimRemit:
    """One claim of an 835 (CLP): its CLM01, status (1 primary, 4 denied), the payer's claim control number."""

    claim_id: str
    status: str
    payer_claim_control_number: str
    lines: list[LineRemit]

    @property
    def charge_cents(self) -> int:
        return sum(line.charge_cents for line in self.lines)

    @property
    def paid_cents(self) -> int:
        return sum(line.paid_cents for line in self.lines)

    @property
    def patient_cents(self) -> int:
        return sum(cents for line in self.lines for group, _, cents in line.adjustments if group == "PR")


def build_835(claims: list[ClaimRemit], *, trace_number: str = "CHK10001", control_number: int = 701) -> str:
    """An 835 (005010X221A1) paid by check `trace_number`, for claims of the test billing provider."""
    date8 = WHEN.strftime("%Y%m%d")
    total = sum(c.paid_cents for c in claims)
    inner = [
        f"BPR*I*{_amount(total)}*C*CHK************{date8}",
        f"TRN*1*{trace_number}*1512345678",
        f"DTM*405*{date8}",
        "N1*PR*ACME HEALTH",
        "N3*1 PAYER PLAZA",
        "N4*HARTFORD*CT*06101",
        "PER*BL*PROVIDER SERVICES*TE*8005550100",
        "N1*PE*HARBOR FAMILY CLINIC LLC*XX*1234567893",
        "LX*1",
    ]
    for claim in claims:
        inner += [
            f"CLP*{claim.claim_id}*{claim.status}*{_amount(claim.charge_cents)}*{_amount(claim.paid_cents)}*"
            f"{_amount(claim.patient_cents) if claim.patient_cents else ''}*12*{claim.payer_claim_control_number}",
            "NM1*QC*1*DOE*JANE****MI*XJ1234567",
        ]
        for line in claim.lines:
            inner += [
                f"SVC*HC:{line.procedure}*{_amount(line.charge_cents)}*{_amount(line.paid_cents)}**1",
                f"DTM*472*{line.service_date:%Y%m%d}",
                *(f"CAS*{group}*{reason}*{_amount(cents)}" for group, reason, cents in line.adjustments),
                f"REF*6R*{line.control_number}",
            ]
    inner = [s.replace("**12*", "*0*12*") if s.startswith("CLP") else s for s in inner]
    return interchange(
        functional_id="HP",
        version="005010X221A1",
        body=_transaction("835", None, inner),  # the 835 guide leaves ST03 unused
        control_number=control_number,
    )
