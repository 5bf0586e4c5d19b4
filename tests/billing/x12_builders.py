"""The tests' own builders of a clearinghouse's answers: 999 and 277CA (checked with pyx12 by the tests that use
them). The 835 builder is the app's (`apps.billing.x12_builder`), which the demo data uses too."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from apps.billing.x12_builder import (
    WHEN,
    ClaimRemit,
    LineRemit,
    ProviderAdjustmentRemit,
    build_835,
    interchange,
)
from apps.billing.x12_builder import amount as _amount
from apps.billing.x12_builder import transaction_set as _transaction

__all__ = ["ClaimRemit", "LineRemit", "ProviderAdjustmentRemit", "build_835", "interchange"]


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


def build_271(
    *,
    trace: str,
    active: bool = True,
    copay_cents: int | None = None,
    coinsurance: str | None = None,
    deductible_remaining_cents: int | None = None,
    control_number: int = 701,
) -> str:
    """A 271 (005010X279A1) answering the 270 with that trace: active (EB*1) or inactive (EB*6) coverage, a copay
    (EB*B, EB07), coinsurance (EB*A, EB08 as a fraction: "0.2") and the deductible remaining (EB*C, EB06 29)."""
    inner = [
        "BHT*0022*11*" + trace + "*20250303*0900",
        "HL*1**20*1",
        "NM1*PR*2*ACME HEALTH*****PI*ACME1",
        "HL*2*1*21*1",
        "NM1*1P*2*KURA CLINIC*****XX*1234567893",
        "HL*3*2*22*0",
        f"TRN*2*{trace}*9123456789",
        "NM1*IL*1*DOE*JANE****MI*XJ1234567",
        "DTP*346*D8*20250101",
        "EB*1**30" if active else "EB*6**30",
    ]
    if copay_cents is not None:
        inner.append(f"EB*B**30****{_amount(copay_cents)}")
    if coinsurance is not None:
        inner.append(f"EB*A**30*****{coinsurance}")
    if deductible_remaining_cents is not None:
        inner.append(f"EB*C**30***29*{_amount(deductible_remaining_cents)}")
    return interchange(
        functional_id="HB",
        version="005010X279A1",
        body=_transaction("271", "005010X279A1", inner),
        control_number=control_number,
    )
