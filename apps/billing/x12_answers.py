"""Importing the clearinghouse's answers to 837P batches: 999 and 277CA acknowledgements, 835 remittances.

A file is validated with pyx12 (an invalid one is refused with pyx12's segment, line and element, never with
the values in it; a large one is validated in a process of its own while it is applied, and the transaction
waits for the verdict before it commits), applied in one transaction and recorded once: the same file (by
SHA-256) is never applied twice, which a unique constraint holds even for two imports at the same moment.

* 999: AK1 names the batch (its group control number is the batch's interchange control number). A rejected
  transaction set (IK5 R, AK9 R) rejects every claim of the batch still submitted; an accepted one marks the
  batch accepted (its claims stay submitted until the 277CA).
* 277CA: each claim (loop 2200D, TRN02 = CLM01) with status category A1, A2 or A5 is accepted, with the payer's
  claim control number (REF*1K) recorded; A3, A4, A6, A7 and A8 reject it. Claims no claim of the organization
  answers to, or not waiting for an answer, are listed in the file's outcome.
* 835: posted by `remittance.apply_835` (payments, adjustments, patient responsibility, denials, reversals,
  provider-level adjustments, the unmatched work queue); the check or EFT trace number (TRN02, with its payer's
  TRN03) is unique per organization, so a remittance arriving again in another file posts nothing either.
* 271: the answer to an eligibility check (`eligibility.apply_271`, matched by its trace number). pyx12 cannot
  validate it (it has no 005010X279A1 map), so `eligibility.answer_271_errors` checks its structure instead.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from . import claims, eligibility, remittance
from .models import Claim, ClaimBatch, ClaimStatus, ClearinghouseFile
from .pyx12_check import Pyx12Check

ACCEPTED_CATEGORIES = frozenset({"A1", "A2", "A5"})
REJECTED_CATEGORIES = frozenset({"A3", "A4", "A6", "A7", "A8"})
# (ST01, ST03) -> the kind of answer: a 277 is a 277CA only in its X214 version.
KINDS: dict[tuple[str, str], str] = {
    ("999", "005010X231A1"): ClearinghouseFile.Kind.ACKNOWLEDGEMENT_999,
    ("999", "005010X231"): ClearinghouseFile.Kind.ACKNOWLEDGEMENT_999,
    ("277", "005010X214"): ClearinghouseFile.Kind.CLAIM_ACKNOWLEDGEMENT_277CA,
    ("835", ""): ClearinghouseFile.Kind.REMITTANCE_835,
    ("271", eligibility.VERSION): ClearinghouseFile.Kind.ELIGIBILITY_271,
}
MAX_ERRORS_SHOWN = 10


@dataclass
class Segment:
    id: str
    elements: list[str]

    def element(self, position: int) -> str:
        """Element `position` (1-based, as in "CLP01"); empty when absent."""
        return self.elements[position - 1] if position <= len(self.elements) else ""


def segments(content: str) -> list[Segment]:
    """The file's segments, with the delimiters its ISA declares."""
    if len(content) < 106 or not content.startswith("ISA"):
        raise ValidationError({"file": "Not an X12 interchange (it must start with an ISA segment)."})
    element, terminator = content[3], content[105]
    out = []
    for raw in content.split(terminator):
        raw = raw.strip()
        if raw:
            parts = raw.split(element)
            out.append(Segment(parts[0], parts[1:]))
    return out


def _kind(parsed: list[Segment]) -> str:
    st = next((s for s in parsed if s.id == "ST"), None)
    if st is None:
        raise ValidationError({"file": "The file has no transaction set (ST segment)."})
    kind = KINDS.get((st.element(1), st.element(3)))
    if kind is None:
        raise ValidationError(
            {"file": "Only 999, 277CA (005010X214), 835 and 271 (005010X279A1) files can be imported."}
        )
    return kind


def _apply_999(parsed: list[Segment]) -> dict[str, Any]:
    outcome: dict[str, Any] = {"batches": [], "unmatched_batches": [], "rejected_claims": []}
    group = next((s.element(2) for s in parsed if s.id == "AK1"), "")
    verdict = next((s.element(1) for s in parsed if s.id == "AK9"), "")
    batch = (
        ClaimBatch.objects.for_current_organization()
        .select_for_update()
        .filter(interchange_control_number=int(group) if group.isdigit() else -1)
        .first()
    )
    if batch is None:
        outcome["unmatched_batches"].append(group)
        return outcome
    rejected = verdict == "R" or any(s.id == "IK5" and s.element(1) == "R" for s in parsed)
    batch.acknowledgement = "rejected" if rejected else "accepted"
    batch.save(update_fields=["acknowledgement", "updated_at"])
    outcome["batches"].append(batch.interchange_control_number)
    if rejected:
        for claim in (
            Claim.objects.for_current_organization()
            .filter(batch=batch, status=ClaimStatus.SUBMITTED)
            .order_by("number")
        ):
            claims.claim_status_set(claim=claim, status=ClaimStatus.REJECTED)
            outcome["rejected_claims"].append(claim.submitter_claim_id)
    return outcome


def _apply_277ca(parsed: list[Segment]) -> dict[str, Any]:
    outcome: dict[str, Any] = {"accepted": [], "rejected": [], "unmatched": [], "not_waiting": []}
    in_claim_level = False
    answers: list[dict[str, str]] = []
    for segment in parsed:
        if segment.id == "HL":
            in_claim_level = segment.element(3) == "PT"
        elif in_claim_level and segment.id == "TRN":
            answers.append({"claim_id": segment.element(2), "category": "", "icn": ""})
        elif in_claim_level and answers and segment.id == "STC" and not answers[-1]["category"]:
            answers[-1]["category"] = segment.element(1).split(":")[0]
        elif in_claim_level and answers and segment.id == "REF" and segment.element(1) == "1K":
            answers[-1]["icn"] = segment.element(2)
        elif segment.id == "SVC":
            in_claim_level = False  # line-level statuses follow; the claim's own status has been read
    for answer in answers:
        claim = Claim.objects.for_current_organization().filter(submitter_claim_id=answer["claim_id"]).first()
        if claim is None:
            outcome["unmatched"].append(answer["claim_id"])
            continue
        if answer["category"] in ACCEPTED_CATEGORIES:
            target = ClaimStatus.ACCEPTED
        elif answer["category"] in REJECTED_CATEGORIES:
            target = ClaimStatus.REJECTED
        else:
            continue  # pending or informational categories change nothing
        if claim.status != ClaimStatus.SUBMITTED:
            outcome["not_waiting"].append(claim.submitter_claim_id)
            continue
        claims.claim_status_set(claim=claim, status=target, payer_claim_control_number=answer["icn"])
        outcome["accepted" if target == ClaimStatus.ACCEPTED else "rejected"].append(claim.submitter_claim_id)
    return outcome


@dataclass
class ImportResult:
    file: ClearinghouseFile
    created: bool  # False: the same file was imported before, and nothing was applied again


def clearinghouse_file_import(*, content: bytes) -> ImportResult:
    """Validate and apply one 999, 277CA, 835 or 271 file for the active organization, once.

    A file of `KURA_X12_VALIDATE_APART_BYTES` or more is validated by pyx12 in a process of its own while it is
    applied (`pyx12_check`); the transaction commits only when pyx12 found no error, and an invalid file is
    refused with pyx12's errors whatever its posting made of it, as a smaller file validated first is."""
    try:
        text = content.decode("ascii")
    except UnicodeDecodeError:
        raise ValidationError({"file": "Not an X12 file: it holds characters outside ASCII."}) from None
    parsed = segments(text)
    kind = _kind(parsed)
    digest = hashlib.sha256(content).hexdigest()
    existing = ClearinghouseFile.objects.for_current_organization().filter(sha256=digest).first()
    if existing is not None:
        return ImportResult(file=existing, created=False)  # validated when it was imported
    # pyx12 has no map for the 271 (005010X279A1): its envelope and the elements read are checked here instead.
    check = (
        _Checked(eligibility.answer_271_errors(parsed))
        if kind == "271"
        else Pyx12Check(text, apart=len(text) >= settings.KURA_X12_VALIDATE_APART_BYTES)
    )
    _refuse_if_invalid(check)
    trace: dict[str, str] = {}
    try:
        with transaction.atomic():
            claims.lock_claims()
            trn = next((seg for seg in parsed if seg.id == "TRN"), None) if kind == "835" else None
            trace = {"trace_number": trn.element(2), "trace_originator": trn.element(3)} if trn else {}
            record = ClearinghouseFile.objects.create(
                kind=kind, sha256=digest, interchange_control_number=parsed[0].element(13), content=text, **trace
            )
            if kind == "835":
                record.outcome = remittance.apply_835(parsed, file=record)
            elif kind == "271":
                record.outcome = eligibility.apply_271(parsed, file=record)
            else:
                record.outcome = {"999": _apply_999, "277CA": _apply_277ca}[kind](parsed)
            record.save(update_fields=["outcome", "payer_name", "payment_cents", "paid_on", "updated_at"])
            _refuse_if_invalid(check, wait=True)
    except IntegrityError:
        _refuse_if_invalid(check, wait=True)
        # The same file or remittance, imported before or by someone else in the meantime: applied once.
        existing = (
            ClearinghouseFile.objects.for_current_organization()
            .filter(Q(sha256=digest) | Q(kind="835", **trace) if trace else Q(sha256=digest))
            .first()
        )
        if existing is None:
            raise
        return ImportResult(file=existing, created=False)
    except Exception:
        # An invalid file is refused with pyx12's errors, not with what its posting stumbled on.
        _refuse_if_invalid(check, wait=True)
        raise
    return ImportResult(file=record, created=True)


@dataclass
class _Checked:
    found: list[str]

    def errors(self) -> list[str]:
        return self.found


def _refuse_if_invalid(check: Pyx12Check | _Checked, *, wait: bool = False) -> None:
    """Refuse the file with its validation errors (the first `MAX_ERRORS_SHOWN`); without `wait`, only when they
    are known already (a file validated in a process of its own is waited for before the commit)."""
    if not wait and isinstance(check, Pyx12Check) and check.apart:
        return
    errors = check.errors()
    if errors:
        shown = errors[:MAX_ERRORS_SHOWN]
        if len(errors) > MAX_ERRORS_SHOWN:
            shown.append(f"... and {len(errors) - MAX_ERRORS_SHOWN} more.")
        raise ValidationError({"file": shown})


def outcome_text(outcome: dict[str, Any]) -> str:
    """What an import did, in words: "2 accepted, 1 rejected"."""
    parts = [f"{len(ids)} {key.replace('_', ' ')}" for key, ids in outcome.items() if isinstance(ids, list) and ids]
    return ", ".join(parts) or "nothing to apply"
