"""Eligibility: a 270 (005010X279A1) asking a payer about a patient's policy, sent through the clearinghouse's SFTP
exchange, and the 271 answering it, imported with the other answers (`x12_answers`, detected by ST01 271).

* Asking (`eligibility_check_request`) writes the 270 and records the check (its trace number, TRN02 of loop
  2000C/2000D, is "E" and the check's number); the send job (`eligibility_checks_send`) puts every check not yet
  on the server into the clearinghouse's inbound folder.
* Answering (`apply_271`): the 271's TRN*2 echoes the trace; the check of the active organization with that trace
  gets the answer (active or inactive coverage, copay, coinsurance, deductible remaining). A trace no check of the
  organization has is listed as unmatched and changes nothing.

pyx12 has no map for 005010X279A1, so neither file can be validated by it: `answer_271_errors` checks the 271's
envelope (control numbers and counts) and the elements this import reads, and a file failing it stores nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.patients import phi_reads
from apps.patients.models import PHIAccessLog

from . import sftp
from .models import BillingProvider, ClearinghouseFile, EligibilityCheck, EligibilityStatus, InsurancePolicy
from .x12 import COMPONENT, REPETITION, _demographics, _segment, interchange_control_number, x12_text

if TYPE_CHECKING:
    from .x12_answers import Segment

VERSION = "005010X279A1"
# EB01: 1-5 are kinds of active coverage, 6-8 of inactive coverage.
ACTIVE_CODES = frozenset("12345")
INACTIVE_CODES = frozenset("678")
KNOWN_EB01 = frozenset("123456789ABCDEFGHIJKLMNOPQRSTUVWXY") | {"CB", "MC"}
DEDUCTIBLE_REMAINING = "29"  # EB06 time period qualifier: remaining
MAX_CENTS = 10**12
_AMOUNT = re.compile(r"^\d{1,10}(?:\.\d{0,2})?$|^\.\d{1,2}$")
_FRACTION = re.compile(r"^(?:0?\.\d{1,4}|[01](?:\.0{0,4})?)$")


def _request_segments(check: EligibilityCheck, policy: InsurancePolicy, provider: BillingProvider) -> list[str]:
    """The transaction set (ST..SE) of one 270: payer (2000A), provider (2000B), subscriber (2000C) and, when the
    patient is not the subscriber, the dependent (2000D) asked about."""
    patient, payer = policy.patient, policy.payer
    asked = timezone.localtime(check.asked_at)
    date8, time4 = asked.strftime("%Y%m%d"), asked.strftime("%H%M")
    trace = _segment("TRN", "1", check.trace_number, f"1{provider.tax_id}")
    inquiry = [_segment("DTP", "291", "D8", date8), _segment("EQ", "30")]
    patient_name = [x12_text(patient.family_name, 60), x12_text(patient.given_name, 35)]
    body = [
        _segment("ST", "270", "0001", VERSION),
        _segment("BHT", "0022", "13", check.trace_number, date8, time4),
        _segment("HL", "1", "", "20", "1"),
        _segment("NM1", "PR", "2", x12_text(payer.name, 60), "", "", "", "", "PI", payer.payer_id),
        _segment("HL", "2", "1", "21", "1"),
        _segment("NM1", "1P", "2", x12_text(provider.legal_name, 60), "", "", "", "", "XX", provider.npi),
    ]
    if policy.subscriber_relationship == InsurancePolicy.Relationship.SELF:
        body += [
            _segment("HL", "3", "2", "22", "0"),
            trace,
            _segment("NM1", "IL", "1", *patient_name, "", "", "", "MI", policy.member_id),
            _demographics(patient),
            *inquiry,
        ]
    else:
        subscriber = [x12_text(policy.subscriber_family_name, 60), x12_text(policy.subscriber_given_name, 35)]
        body += [
            _segment("HL", "3", "2", "22", "1"),
            _segment("NM1", "IL", "1", *subscriber, "", "", "", "MI", policy.member_id),
            _segment("HL", "4", "3", "23", "0"),
            trace,
            _segment("NM1", "03", "1", *patient_name),
            _demographics(patient),
            *inquiry,
        ]
    body.append(_segment("SE", str(len(body) + 1), "0001"))
    return body


def _interchange(check: EligibilityCheck, provider: BillingProvider, body: list[str]) -> str:
    asked = timezone.localtime(check.asked_at)
    assert check.interchange_control_number is not None  # drawn before the file is written
    control = f"{check.interchange_control_number:09d}"
    envelope = [
        _segment(
            "ISA",
            "00",
            " " * 10,
            "00",
            " " * 10,
            "ZZ",
            provider.submitter_id.ljust(15),
            "ZZ",
            provider.receiver_id.ljust(15),
            asked.strftime("%y%m%d"),
            asked.strftime("%H%M"),
            REPETITION,
            "00501",
            control,
            "0",
            provider.usage_indicator,
            COMPONENT,
        ),
        _segment(
            "GS",
            "HS",
            provider.submitter_id,
            provider.receiver_id,
            asked.strftime("%Y%m%d"),
            asked.strftime("%H%M"),
            str(check.interchange_control_number),
            "X",
            VERSION,
        ),
        *body,
        _segment("GE", "1", str(check.interchange_control_number)),
        _segment("IEA", "1", control),
    ]
    return "\n".join(envelope) + "\n"


def file_name(check: EligibilityCheck) -> str:
    return f"270-{check.number:09d}.x12"


def eligibility_check_request(*, policy: InsurancePolicy, now: dt.datetime | None = None) -> EligibilityCheck:
    """Record a question to the policy's payer about the policy (the 270 written now, sent by the send job)."""
    provider = BillingProvider.objects.for_current_organization().first()
    if provider is None:
        raise ValidationError({"billing_provider": "Enter the organization's billing provider first."})
    if not policy.is_active:
        raise ValidationError({"policy": "The policy is no longer active: ask about the patient's current one."})
    now = now or timezone.now()
    # The patient's name, birth date and member id leave for the payer: a PHI read.
    phi_reads.mark(record_type=PHIAccessLog.RecordType.CLAIM_FILE, patient_ids=[policy.patient_id])
    with transaction.atomic():
        # Drawing the control number locks the organization's counter until the check is stored, so checks (and
        # every other outbound file) are numbered one at a time: the next number is free.
        control_number = interchange_control_number()
        last = EligibilityCheck.objects.for_current_organization().aggregate(m=Max("number"))["m"]
        number = (last or 0) + 1
        check = EligibilityCheck(
            policy=policy,
            number=number,
            trace_number=f"E{number}",
            asked_at=now,
            interchange_control_number=control_number,
        )
        check.request_content = _interchange(check, provider, _request_segments(check, policy, provider))
        check.save()
    return check


def eligibility_checks_send(*, target: sftp.Account, now: dt.datetime | None = None) -> list[EligibilityCheck]:
    """Put every check not yet on the clearinghouse's server there (each file on its own, in asking order)."""
    now = now or timezone.now()
    sent = []
    waiting = EligibilityCheck.objects.for_current_organization().select_for_update(skip_locked=True)
    for check in waiting.filter(uploaded_at__isnull=True).order_by("number"):
        sftp.put_file(target, name=file_name(check), content=check.request_content.encode("ascii"))
        check.uploaded_at = now
        check.save(update_fields=["uploaded_at", "updated_at"])
        sent.append(check)
    return sent


# --- the 271 --------------------------------------------------------------------------------------------------


def _cents(value: str, where: str) -> int:
    if not _AMOUNT.match(value):
        raise ValidationError({"file": f"{where}: the amount is not a non-negative X12 decimal."})
    cents = int(Decimal(value) * 100)
    if cents >= MAX_CENTS:
        raise ValidationError({"file": f"{where}: the amount is out of range."})
    return cents


def _percent(value: str, where: str) -> Decimal:
    if not _FRACTION.match(value):
        raise ValidationError({"file": f"{where}: the percentage is not a fraction between 0 and 1."})
    try:
        return (Decimal(value) * 100).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValidationError({"file": f"{where}: the percentage is not a fraction between 0 and 1."}) from None


def answer_271_errors(parsed: list[Segment]) -> list[str]:
    """What is wrong with a 271's envelope (counts and control numbers) or the elements this import reads, each
    naming the segment and its position; empty when the file can be applied."""
    errors: list[str] = []
    ids = [segment.id for segment in parsed]
    for opening, closing in (("ISA", "IEA"), ("GS", "GE"), ("ST", "SE")):
        if ids.count(opening) != 1 or ids.count(closing) != 1:
            errors.append(f"The file must hold one {opening}/{closing} envelope (one 271 transaction set).")
    if errors:
        return errors
    isa, iea = parsed[0], parsed[ids.index("IEA")]
    gs, ge = parsed[ids.index("GS")], parsed[ids.index("GE")]
    st, se = parsed[ids.index("ST")], parsed[ids.index("SE")]
    if ids[0] != "ISA" or ids[-1] != "IEA":
        errors.append("The file must start with ISA and end with IEA.")
    if gs.element(1) != "HB":
        errors.append("Segment GS, element GS01: a 271 is in a functional group HB.")
    if st.element(3) != VERSION or gs.element(8) != VERSION:
        errors.append(f"Segments GS and ST, elements GS08 and ST03: the version must be {VERSION}.")
    if iea.element(1) != "1" or iea.element(2) != isa.element(13):
        errors.append("Segment IEA: IEA01 must count one group and IEA02 repeat ISA13.")
    if ge.element(1) != "1" or ge.element(2) != gs.element(6):
        errors.append("Segment GE: GE01 must count one transaction set and GE02 repeat GS06.")
    count = ids.index("SE") - ids.index("ST") + 1
    if se.element(1) != str(count) or se.element(2) != st.element(2):
        errors.append("Segment SE: SE01 must count the transaction set's segments and SE02 repeat ST02.")
    if not any(s.id == "TRN" and s.element(1) == "2" and s.element(2) for s in parsed):
        errors.append("The 271 has no trace (TRN*2) answering a 270.")
    if not any(s.id in ("EB", "AAA") for s in parsed):
        errors.append("The 271 has neither benefits (EB) nor a request validation (AAA).")
    for position, segment in enumerate(parsed, start=1):
        if segment.id != "EB":
            continue
        where = f"Segment EB at position {position}"
        if segment.element(1) not in KNOWN_EB01:
            errors.append(f"{where}, element EB01: not an eligibility or benefit code.")
        try:
            if segment.element(7):
                _cents(segment.element(7), f"{where}, element EB07")
            if segment.element(8):
                _percent(segment.element(8), f"{where}, element EB08")
        except ValidationError as error:
            errors.extend(error.messages)
    return errors


def _answer(parsed: list[Segment]) -> dict[str, Any]:
    """The answer's coverage status and benefits (the first of each kind the payer names)."""
    answer: dict[str, Any] = {
        "status": EligibilityStatus.UNKNOWN,
        "copay_cents": None,
        "coinsurance_percent": None,
        "deductible_remaining_cents": None,
    }
    rejected = any(s.id == "AAA" and s.element(1) == "N" for s in parsed)
    for segment in (s for s in parsed if s.id == "EB"):
        code, period, amount, fraction = segment.element(1), segment.element(6), segment.element(7), segment.element(8)
        if answer["status"] == EligibilityStatus.UNKNOWN and not rejected:
            if code in ACTIVE_CODES:
                answer["status"] = EligibilityStatus.ACTIVE
            elif code in INACTIVE_CODES:
                answer["status"] = EligibilityStatus.INACTIVE
        if code == "B" and amount and answer["copay_cents"] is None:
            answer["copay_cents"] = _cents(amount, "EB07")
        elif code == "A" and fraction and answer["coinsurance_percent"] is None:
            answer["coinsurance_percent"] = _percent(fraction, "EB08")
        elif code == "C" and period == DEDUCTIBLE_REMAINING and amount and answer["deductible_remaining_cents"] is None:
            answer["deductible_remaining_cents"] = _cents(amount, "EB07")
    return answer


def apply_271(parsed: list[Segment], *, file: ClearinghouseFile, now: dt.datetime | None = None) -> dict[str, Any]:
    """Record the 271's answer on the check its trace names (of the active organization, still waiting)."""
    outcome: dict[str, Any] = {"answered": [], "unmatched": [], "not_waiting": []}
    trace = next(s.element(2) for s in parsed if s.id == "TRN" and s.element(1) == "2")
    check = EligibilityCheck.objects.for_current_organization().select_for_update().filter(trace_number=trace).first()
    if check is None:
        outcome["unmatched"].append(trace)
        return outcome
    if check.answered_at is not None:
        outcome["not_waiting"].append(trace)
        return outcome
    for name, value in _answer(parsed).items():
        setattr(check, name, value)
    check.answered_at = now or timezone.now()
    check.answer_file = file
    check.save()
    outcome["answered"].append(trace)
    return outcome
