"""ANSI X12 837P (005010X222A1) professional claim files of the organization's ready claims.

One file (interchange) per export: ISA/GS/ST envelopes with control numbers, the billing provider (2000A),
then per claim a subscriber loop (2000B), the patient loop when the patient is not the subscriber (2000C),
the claim (2300, with REF*F8 for a corrected or void claim), its rendering provider (2310B) and its service
lines (2400, each with its line item control number, REF*6R). Unclaimed pending-insurance charges are first
made into ready claims (`claims.claims_prepare`); the claims sent become submitted. Text is written in X12's
basic character set, so a file is ASCII whatever the names in it.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.patients import phi_reads
from apps.patients.models import Patient, PHIAccessLog

from . import claims
from .models import (
    ADJUDICATED_STATUSES,
    BillingProvider,
    Claim,
    ClaimBatch,
    ClaimLine,
    ClaimStatus,
    EligibilityCheck,
    InsurancePolicy,
    InterchangeCounter,
    LedgerEntry,
)

ELEMENT, COMPONENT, REPETITION, SEGMENT = "*", ":", "^", "~"
DELIMITERS = frozenset((ELEMENT, COMPONENT, REPETITION, SEGMENT))
# X12's basic character set (upper-case letters, digits, space and these specials) less the delimiters this file
# uses: what every receiver can read. Anything else in a name or an address is transliterated or becomes a space.
BASIC_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !\"&'()+,-./;?=") - DELIMITERS
# Letters that Unicode does not decompose into a base letter and a mark.
_LETTERS = {"Æ": "AE", "Ø": "O", "Œ": "OE", "Ł": "L", "Đ": "D", "Ð": "D", "Þ": "TH", "Ħ": "H", "Ŧ": "T", "ß": "SS"}


MAX_CONTROL_NUMBER = 999_999_999  # ISA13 is nine digits


def _highest_control_number_used() -> int:
    """The highest interchange control number the active organization's files carried before it had a counter."""
    batches = ClaimBatch.objects.for_current_organization().aggregate(m=Max("interchange_control_number"))["m"]
    checks = EligibilityCheck.objects.for_current_organization().aggregate(
        number=Max("number"), control=Max("interchange_control_number")
    )
    return max(batches or 0, checks["number"] or 0, checks["control"] or 0)


def interchange_control_number() -> int:
    """The next interchange control number (ISA13, GS06) of the active organization's outbound X12 files, whatever
    their kind (837P, 270): drawn from the organization's counter row, locked until the caller's transaction ends,
    so two files never share one. Call it inside the transaction that stores the file."""
    with transaction.atomic():
        counters = InterchangeCounter.objects.for_current_organization().select_for_update()
        counter = counters.first()
        if counter is None:
            # The first number drawn: start after whatever the organization sent before (a concurrent first
            # draw inserts nothing here and waits on the other's row).
            InterchangeCounter.objects.bulk_create(
                [InterchangeCounter(last_number=_highest_control_number_used())], ignore_conflicts=True
            )
            counter = counters.get()
        if counter.last_number >= MAX_CONTROL_NUMBER:
            raise ValidationError({"interchange_control_number": "The organization's control numbers are used up."})
        counter.last_number += 1
        counter.save(update_fields=["last_number", "updated_at"])
        return counter.last_number


def x12_text(value: str, length: int | None = None) -> str:
    """A name or address as an element value in the basic character set: "Lucía Núñez" -> "LUCIA NUNEZ".

    Accents are dropped, a few letters spelt out (Ø -> O, Æ -> AE), delimiters and every other character become a
    space; runs of spaces collapse; the result is trimmed to the element's maximum length.
    """
    decomposed = unicodedata.normalize("NFKD", value).upper()
    letters = "".join(_LETTERS.get(char, char) for char in decomposed if not unicodedata.combining(char))
    kept = "".join(char if char in BASIC_CHARACTERS else " " for char in letters)
    cleaned = " ".join(kept.split())
    return cleaned[:length].rstrip() if length else cleaned


def _amount(cents: int) -> str:
    """X12 decimal (R) amount: 15000 -> "150", 15050 -> "150.5"."""
    whole, rest = divmod(cents, 100)
    if rest == 0:
        return str(whole)
    return f"{whole}.{rest:02d}".rstrip("0")


def _segment(*elements: str) -> str:
    parts = list(elements)
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()  # trailing empty elements are omitted
    return ELEMENT.join(parts) + SEGMENT


def _diagnoses(charges: Sequence[LedgerEntry]) -> list[str]:
    """The claim's ICD-10 codes (first 12, in order of appearance on its lines)."""
    codes: list[str] = []
    for charge in charges:
        for code in charge.metadata.get("diagnosis_codes", []):
            if code not in codes:
                codes.append(code)
    return codes[:12]


def _required(value: str, claim: Claim, what: str) -> str:
    """A required name element; refused (naming the claim, not the person) when nothing of it can be written."""
    if not value:
        raise ValidationError(
            {"claim": f"Claim {claim.submitter_claim_id}: the {what} has no letters X12 can carry; correct it first."}
        )
    return value


def _cas(adjustments: Sequence[claims.Adjustment]) -> list[str]:
    """CAS segments: one per group (in the payer's order), at most six reasons each, at most five in all."""
    groups: dict[str, list[claims.Adjustment]] = {}
    for adjustment in adjustments:
        groups.setdefault(adjustment.group, []).append(adjustment)
    out: list[str] = []
    for group, found in groups.items():
        for start in range(0, len(found), 6):
            elements = [e for a in found[start : start + 6] for e in (a.reason, _amount(a.cents), "")]
            out.append(_segment("CAS", group, *elements))
    if len(out) > 5:
        raise ValidationError({"claim": "The primary payer's adjustments are more than a claim file can carry."})
    return out


def _sbr(policy: InsurancePolicy, relationship: str) -> str:
    """The subscriber's coverage (SBR): the policy's payer responsibility, `relationship` (SBR02, which loop 2000B
    gives only for the patient's own policy and loop 2320 always), its group number and claim filing indicator."""
    return _segment(
        "SBR",
        policy.priority,
        relationship,
        x12_text(policy.group_number, 50),
        "",
        "",
        "",
        "",
        "",
        policy.claim_filing_indicator,
    )


def _subscriber_name(policy: InsurancePolicy, patient: Patient) -> tuple[str, str]:
    """(family, given) of the policy's subscriber: the patient for their own policy, else the named holder."""
    if policy.subscriber_relationship == InsurancePolicy.Relationship.SELF:
        return patient.family_name, patient.given_name
    return policy.subscriber_family_name, policy.subscriber_given_name


def _other_payer_segments(claim: Claim, primary: claims.PrimaryAdjudication) -> list[str]:
    """Loops 2320 (the other subscriber's coverage, what the primary payer paid and adjusted at claim level),
    2330A (the other subscriber) and 2330B (the other payer) of a secondary claim."""
    policy, patient = primary.policy, claim.patient
    family, given = _subscriber_name(policy, patient)
    out = [
        _sbr(policy, policy.subscriber_relationship),
        *_cas(primary.adjustments),
        _segment("AMT", "D", _amount(primary.paid_cents)),
        _segment("OI", "", "", "Y", "", "", "Y"),
        _segment(
            "NM1",
            "IL",
            "1",
            _required(x12_text(family, 60), claim, "other subscriber's family name"),
            x12_text(given, 35),
            "",
            "",
            "",
            "MI",
            _required(x12_text(policy.member_id, 80), claim, "other subscriber's member id"),
        ),
        _segment(
            "NM1",
            "PR",
            "2",
            _required(x12_text(policy.payer.name, 60), claim, "other payer's name"),
            "",
            "",
            "",
            "",
            "PI",
            policy.payer.payer_id,
        ),
    ]
    if not primary.lines:
        # Adjudicated at claim level only: the date of the answer goes with the other payer, not with lines.
        out.append(_segment("DTP", "573", "D8", primary.adjudicated_on.strftime("%Y%m%d")))
    return out


def _line_adjudication_segments(line: ClaimLine, procedure: str, primary: claims.PrimaryAdjudication) -> list[str]:
    """Loop 2430 of a secondary claim's line: what the primary payer paid and adjusted on it, and when."""
    answer = primary.lines.get(line.charge_id)
    if answer is None:
        return []
    return [
        _segment(
            "SVD",
            primary.policy.payer.payer_id,
            _amount(answer.paid_cents),
            procedure,
            "",
            str(line.charge.metadata.get("units", 1)),
        ),
        *_cas(answer.adjustments),
        _segment("DTP", "573", "D8", answer.adjudicated_on.strftime("%Y%m%d")),
    ]


def _claim_segments(
    claim: Claim,
    lines: Sequence[ClaimLine],
    hl_parent: int,
    hl_next: int,
    provider: BillingProvider,
    primary: claims.PrimaryAdjudication | None = None,
) -> tuple[list[str], int]:
    """Segments of loops 2000B-2400 for one claim (with the primary payer's answer on a secondary claim); returns
    them and the next free HL number."""
    policy, patient = claim.policy, claim.patient
    charges = [line.charge for line in lines]
    is_self = policy.subscriber_relationship == InsurancePolicy.Relationship.SELF
    out: list[str] = []
    subscriber_hl = hl_next
    out.append(_segment("HL", str(subscriber_hl), str(hl_parent), "22", "0" if is_self else "1"))
    out.append(_sbr(policy, "18" if is_self else ""))
    family, given = _subscriber_name(policy, patient)
    out.append(
        _segment(
            "NM1",
            "IL",
            "1",
            _required(x12_text(family, 60), claim, "subscriber's family name"),
            x12_text(given, 35),
            "",
            "",
            "",
            "MI",
            _required(x12_text(policy.member_id, 80), claim, "member id"),
        )
    )
    if is_self:
        out.extend(_patient_address(patient, policy))
        out.append(_demographics(patient))
    else:
        out.extend(_address(policy))
    out.append(
        _segment(
            "NM1",
            "PR",
            "2",
            _required(x12_text(policy.payer.name, 60), claim, "payer's name"),
            "",
            "",
            "",
            "",
            "PI",
            policy.payer.payer_id,
        )
    )
    hl_next += 1
    if not is_self:
        out.append(_segment("HL", str(hl_next), str(subscriber_hl), "23", "0"))
        out.append(_segment("PAT", policy.subscriber_relationship))
        out.append(
            _segment(
                "NM1",
                "QC",
                "1",
                _required(x12_text(patient.family_name, 60), claim, "patient's family name"),
                x12_text(patient.given_name, 35),
            )
        )
        out.extend(_patient_address(patient, policy))
        out.append(_demographics(patient))
        hl_next += 1
    diagnoses = _diagnoses(charges)
    place = charges[0].metadata.get("place_of_service", "11")
    out.append(
        _segment(
            "CLM",
            claim.submitter_claim_id,
            _amount(claim.total_cents),
            "",
            "",
            COMPONENT.join((place, "B", claim.frequency_code)),
            "Y",
            "A",
            "Y",
            "Y",
        )
    )
    if claim.original_claim is not None:
        out.append(_segment("REF", "F8", claim.original_claim.payer_claim_control_number))
    out.append(
        _segment(
            "HI",
            *(COMPONENT.join(("ABK" if i == 0 else "ABF", _replace_dot(code))) for i, code in enumerate(diagnoses)),
        )
    )
    rendering = claims.rendering_provider(claim=claim, billing_provider=provider)
    if rendering is not None:
        out.append(
            _segment(
                "NM1",
                "82",
                "1",
                _required(x12_text(rendering.family_name, 60), claim, "rendering provider's family name"),
                x12_text(rendering.given_name, 35),
                "",
                "",
                "",
                "XX",
                rendering.npi,
            )
        )
        out.append(_segment("PRV", "PE", "PXC", rendering.taxonomy_code))
    if primary is not None:
        out.extend(_other_payer_segments(claim, primary))
    for line in lines:
        charge, meta = line.charge, line.charge.metadata
        procedure = COMPONENT.join(("HC", meta["cpt_code"], *meta.get("modifiers", [])))
        line_codes = meta.get("diagnosis_codes", [])
        pointers = [
            str(diagnoses.index(line_codes[p - 1]) + 1)
            for p in meta.get("diagnosis_pointers", [1])
            if line_codes[p - 1] in diagnoses
        ] or ["1"]
        out.append(_segment("LX", str(line.line_number)))
        out.append(
            _segment(
                "SV1",
                procedure,
                _amount(charge.amount_cents),
                "UN",
                str(meta.get("units", 1)),
                "",
                "",
                COMPONENT.join(pointers[:4]),
            )
        )
        out.append(_segment("DTP", "472", "D8", charge.service_date.strftime("%Y%m%d")))
        out.append(_segment("REF", "6R", line.control_number))
        if primary is not None:
            out.extend(_line_adjudication_segments(line, procedure, primary))
    return out, hl_next


def _address(policy: InsurancePolicy) -> list[str]:
    return [
        _segment("N3", x12_text(policy.address_line1, 55)),
        _segment("N4", x12_text(policy.city, 30), policy.state, policy.postal_code),
    ]


# Patient.sex_at_birth -> DMG03 (X12 gender code); intersex and unknown are "U".
SEX_CODES: dict[str, str] = {Patient.SexAtBirth.FEMALE: "F", Patient.SexAtBirth.MALE: "M"}
_STATE = re.compile(r"^[A-Z]{2}$")
_ZIP = re.compile(r"^[0-9]{5}(?:[0-9]{4})?$")


def _demographics(patient: Patient) -> str:
    sex = SEX_CODES.get(patient.sex_at_birth, "U")
    return _segment("DMG", "D8", patient.date_of_birth.strftime("%Y%m%d"), sex)


def _patient_address(patient: Patient, policy: InsurancePolicy) -> list[str]:
    """The patient's own US address when it is complete enough for N3/N4; otherwise the one on the card."""
    state = patient.region.strip().upper()
    postal = patient.postal_code.replace("-", "").replace(" ", "")
    if patient.country != "US" or not (patient.address_line1 and patient.city and _STATE.match(state)):
        return _address(policy)
    if not _ZIP.match(postal):
        return _address(policy)
    line2 = x12_text(patient.address_line2, 55)
    return [
        _segment("N3", x12_text(patient.address_line1, 55), line2),
        _segment("N4", x12_text(patient.city, 30), state, postal),
    ]


def _replace_dot(code: str) -> str:
    return code.replace(".", "")


def _primary_answers(ready: Sequence[Claim]) -> dict[uuid.UUID, claims.PrimaryAdjudication]:
    """The primary payer's answer as it stands now, per secondary claim among `ready`. A secondary claim whose
    primary has no answer to pass on (its adjudication reversed, the payer's new answer awaited) is left out of
    the batch and stays ready, to go with the new answer."""
    answers = {}
    for claim in ready:
        if claim.primary_claim is None:
            continue
        if claim.primary_claim.status not in ADJUDICATED_STATUSES:
            continue
        try:
            answers[claim.pk] = claims.primary_adjudication(primary=claim.primary_claim)
        except ValidationError:
            continue
    return answers


def claim_batch_export(*, now: dt.datetime | None = None, preview: bool = False) -> ClaimBatch | None:
    """Send the active organization's ready claims (unclaimed pending-insurance charges are made into claims
    first) as one 837P batch: the claims become submitted. Test data (ISA15 T) until the billing provider is
    marked live.

    Returns the batch (its `content` is the file), or None when there is nothing to send. A `preview` writes
    the same file as test data and changes nothing: the batch it returns was never stored.
    """
    now = now or timezone.now()
    with transaction.atomic():
        provider = claims.lock_claims()
        claims.claims_prepare()
        ready = list(
            Claim.objects.for_current_organization()
            .filter(status=ClaimStatus.READY)
            .select_related("patient", "policy__payer", "original_claim", "primary_claim__policy__payer")
            .order_by("number")
        )
        primaries = _primary_answers(ready)
        ready = [claim for claim in ready if claim.primary_claim is None or claim.pk in primaries]
        if not ready:
            if preview:
                transaction.set_rollback(True)  # a preview leaves no claim made
            return None
        lines: dict[uuid.UUID, list[ClaimLine]] = defaultdict(list)
        for line in (
            ClaimLine.objects.filter(claim__in=ready).select_related("charge").order_by("claim_id", "line_number")
        ):
            lines[line.claim_id].append(line)
        # Diagnoses, procedures and demographics of every patient on the file: a PHI read of each claim line.
        phi_reads.mark(
            record_type=PHIAccessLog.RecordType.CLAIM_FILE,
            patient_ids=[claim.patient_id for claim in ready for _ in lines[claim.pk]],
        )
        icn = interchange_control_number()
        usage = "T" if preview else provider.usage_indicator
        date8, date6, time4 = now.strftime("%Y%m%d"), now.strftime("%y%m%d"), now.strftime("%H%M")
        body: list[str] = [
            _segment("ST", "837", "0001", "005010X222A1"),
            _segment("BHT", "0019", "00", f"{icn:09d}", date8, time4, "CH"),
            _segment("NM1", "41", "2", x12_text(provider.legal_name, 60), "", "", "", "", "46", provider.submitter_id),
            _segment("PER", "IC", x12_text(provider.contact_name, 60), "TE", provider.phone),
            _segment(
                "NM1", "40", "2", x12_text(provider.receiver_name, 60), "", "", "", "", "46", provider.receiver_id
            ),
            _segment("HL", "1", "", "20", "1"),
            _segment("PRV", "BI", "PXC", provider.taxonomy_code),
            _segment("NM1", "85", "2", x12_text(provider.legal_name, 60), "", "", "", "", "XX", provider.npi),
            _segment("N3", x12_text(provider.address_line1, 55), x12_text(provider.address_line2, 55)),
            _segment("N4", x12_text(provider.city, 30), provider.state, provider.postal_code),
            _segment("REF", "EI", provider.tax_id),
        ]
        hl_next = 2
        for claim in ready:
            segments, hl_next = _claim_segments(claim, lines[claim.pk], 1, hl_next, provider, primaries.get(claim.pk))
            body.extend(segments)
        body.append(_segment("SE", str(len(body) + 1), "0001"))
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
                date6,
                time4,
                REPETITION,
                "00501",
                f"{icn:09d}",
                "0",
                usage,
                COMPONENT,
            ),
            _segment(
                "GS", "HC", provider.submitter_id, provider.receiver_id, date8, time4, str(icn), "X", "005010X222A1"
            ),
            *body,
            _segment("GE", "1", str(icn)),
            _segment("IEA", "1", f"{icn:09d}"),
        ]
        batch = ClaimBatch(
            interchange_control_number=icn,
            file_name=f"837P-{icn:09d}{'-TEST' if usage == 'T' else ''}.x12",
            content="\n".join(envelope) + "\n",
            usage_indicator=usage,
        )
        batch.save()
        claims.claims_mark_submitted(claims=ready, batch_id=batch.pk, at=now)
        if preview:
            transaction.set_rollback(True)
        return batch
