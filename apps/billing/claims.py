"""Claims as records: made ready from pending-insurance charges, moved through their lifecycle, corrected and
voided. The 837P file they are sent in is written by `x12.claim_batch_export`.

A claim groups the charges of one encounter (or one patient and service date when no encounter is linked) billed
to one policy; each charge is a line with its own line item control number (REF*6R), which the payer echoes on
its remittance. A charge sent on a claim names that claim (`LedgerEntry.claim`), so it is never claimed twice;
a corrected claim takes the charges over from the claim it replaces.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.events import types as event_types
from apps.events.services import event_record, event_record_many
from apps.organizations.roles import DataClassification

from .models import (
    BillingProvider,
    Claim,
    ClaimFrequency,
    ClaimLine,
    ClaimStatus,
    LedgerEntry,
)

MAX_LINES_PER_CLAIM = 50  # 837P loop 2400 repeats at most 50 times
PAYER_CLAIM_CONTROL_NUMBER = re.compile(r"^[A-Za-z0-9-]{1,50}$")


@dataclass(frozen=True)
class RenderingProvider:
    """The clinician who rendered a claim's services (837P loop 2310B)."""

    family_name: str
    given_name: str
    npi: str
    taxonomy_code: str


def rendering_provider(*, claim: Claim, billing_provider: BillingProvider) -> RenderingProvider | None:
    """Who rendered the claim's services, or None when the billing provider itself did (no loop 2310B).

    Today every claim names the rendering clinician kept on the billing provider, with their own taxonomy when
    one is set; this is the one place that changes when encounters name a provider with an NPI and taxonomy.
    """
    if not billing_provider.rendering_npi:
        return None
    return RenderingProvider(
        family_name=billing_provider.rendering_family_name,
        given_name=billing_provider.rendering_given_name,
        npi=billing_provider.rendering_npi,
        taxonomy_code=billing_provider.rendering_taxonomy_code or billing_provider.taxonomy_code,
    )


def lock_claims() -> BillingProvider:
    """Lock the active organization's claims for numbering and sending (its billing provider row), and return
    the provider; refused when the organization has none yet."""
    provider = BillingProvider.objects.for_current_organization().select_for_update().first()
    if provider is None:
        raise ValidationError({"billing_provider": "Enter the organization's billing provider first."})
    return provider


def _next_number() -> int:
    last = Claim.objects.for_current_organization().aggregate(m=Max("number"))["m"]
    return (last or 0) + 1


def _claim_create(
    *,
    charges: Sequence[LedgerEntry],
    frequency_code: str = ClaimFrequency.ORIGINAL,
    original_claim: Claim | None = None,
) -> Claim:
    """A ready claim of these charges (of one patient and policy), one line each, numbered."""
    policy = charges[0].insurance_policy
    assert policy is not None  # callers pass claimed or claimable charges, which are billed to a policy
    number = _next_number()
    claim = Claim.objects.create(
        patient_id=charges[0].patient_id,
        payer_id=policy.payer_id,
        policy=policy,
        encounter_id=charges[0].encounter_id,
        service_date=min(charge.service_date for charge in charges),
        number=number,
        submitter_claim_id=f"K{number:09d}",
        total_cents=sum(charge.amount_cents for charge in charges),
        currency=charges[0].currency,
        frequency_code=frequency_code,
        original_claim=original_claim,
    )
    for line_number, charge in enumerate(charges, start=1):
        ClaimLine.objects.create(
            claim=claim,
            charge=charge,
            line_number=line_number,
            control_number=f"{claim.submitter_claim_id}-{line_number}",
        )
        if frequency_code != ClaimFrequency.VOID:
            charge.claim = claim
            charge.save(update_fields=["claim", "updated_at"])
    return claim


def _groups(charges: Iterable[LedgerEntry]) -> list[list[LedgerEntry]]:
    """Charges by claim: one encounter (or patient and service date) and one policy and currency, in order,
    at most `MAX_LINES_PER_CLAIM` lines each."""
    groups: OrderedDict[tuple[object, ...], list[list[LedgerEntry]]] = OrderedDict()
    for charge in charges:
        visit: tuple[object, ...] = (
            ("encounter", charge.encounter_id)
            if charge.encounter_id
            else ("visit", charge.patient_id, charge.service_date)
        )
        chunks = groups.setdefault((*visit, charge.insurance_policy_id, charge.currency), [[]])
        if len(chunks[-1]) == MAX_LINES_PER_CLAIM:
            chunks.append([])
        chunks[-1].append(charge)
    return [chunk for chunks in groups.values() for chunk in chunks]


def claims_prepare() -> list[Claim]:
    """Ready claims for the active organization's unclaimed pending-insurance clinical charges; returns them."""
    with transaction.atomic():
        lock_claims()
        charges = (
            LedgerEntry.objects.unclaimed_insurance_charges()
            .for_current_organization()
            .select_for_update(of=("self",))
            .select_related("insurance_policy")
            .order_by("service_date", "created_at", "id")
        )
        return [_claim_create(charges=group) for group in _groups(charges)]


def _locked(claim: Claim) -> Claim:
    return Claim.objects.for_current_organization().select_for_update().get(pk=claim.pk)


def _refuse_transition(claim: Claim, status: str) -> ValidationError:
    return ValidationError(
        {
            "status": f"A claim that is {claim.get_status_display().lower()} cannot become "
            f"{ClaimStatus(status).label.lower()}."
        }
    )


def _claim_event(claim: Claim) -> None:
    """The outbox event of a claim's status change (no diagnoses, no patient values)."""
    event_record(
        event_type=event_types.CLAIM_STATUS_CHANGED,
        subject_id=claim.pk,
        patient_id=claim.patient_id,
        data_classification=DataClassification.GENERAL_WELLNESS,
        data=_claim_event_data(claim),
    )


def _claim_event_data(claim: Claim) -> dict[str, object]:
    return {"status": claim.status, "number": claim.number, "frequency_code": claim.frequency_code}


def claim_status_set(*, claim: Claim, status: str, payer_claim_control_number: str = "") -> Claim:
    """Move a claim along its lifecycle (an acknowledgement, a remittance, a resubmission after a rejection),
    recording the payer's claim control number when one comes with the answer."""
    with transaction.atomic():
        locked = _locked(claim)
        claim_status_change(claim=locked, status=status, payer_claim_control_number=payer_claim_control_number)
        locked.save()
        _claim_event(locked)
    return locked


def claim_status_change(*, claim: Claim, status: str, payer_claim_control_number: str = "") -> None:
    """The change `claim_status_set` makes, on a claim the caller has locked, not saved: for `claims_status_save`,
    which saves the changes of many claims at once."""
    if status not in ClaimStatus.values:
        raise ValidationError({"status": "Unknown claim status."})
    if payer_claim_control_number and not PAYER_CLAIM_CONTROL_NUMBER.match(payer_claim_control_number):
        raise ValidationError({"payer_claim_control_number": "Use 1-50 letters, digits or hyphens."})
    if status in (ClaimStatus.SUBMITTED, ClaimStatus.CORRECTED, ClaimStatus.VOIDED):
        # These follow from sending a batch or a corrected or void claim, never from a bare status change.
        raise ValidationError({"status": "Send, correct or void the claim instead."})
    if not claim.may_become(status):
        raise _refuse_transition(claim, status)
    claim.status = status
    if status == ClaimStatus.READY:
        claim.batch = None
        claim.submitted_at = None
    if payer_claim_control_number:
        claim.payer_claim_control_number = payer_claim_control_number


SAVED_ON_STATUS_CHANGE = ("status", "payer_claim_control_number", "batch", "submitted_at", "updated_at")


def claims_status_save(*, steps: Sequence[Claim]) -> None:
    """Save status changes made by `claim_status_change` to many claims at once: `steps` holds a copy of a claim
    after each change, in order (a claim may change twice, accepted then paid). Each claim's last state is
    written in bulk; every step gets its history row and outbox event, as `claim_status_set` writes them."""
    if not steps:
        return
    now = timezone.now()
    latest = {claim.pk: claim for claim in steps}
    for claim in steps:
        claim.updated_at = now
    with transaction.atomic():
        Claim.objects.bulk_update(list(latest.values()), list(SAVED_ON_STATUS_CHANGE), batch_size=1_000)
        Claim.history.bulk_history_create(list(steps), update=True, batch_size=2_000)
        event_record_many(
            event_type=event_types.CLAIM_STATUS_CHANGED,
            data_classification=DataClassification.GENERAL_WELLNESS,
            subjects=[(claim.pk, claim.patient_id, _claim_event_data(claim)) for claim in steps],
        )


def _replace(*, claim: Claim, status: str, frequency_code: str) -> Claim:
    with transaction.atomic():
        lock_claims()
        locked = _locked(claim)
        if not locked.may_become(status):
            raise _refuse_transition(locked, status)
        if not locked.payer_claim_control_number:
            raise ValidationError(
                {
                    "payer_claim_control_number": "The payer's claim control number of the claim is needed first "
                    "(it comes with the payer's acknowledgement or remittance)."
                }
            )
        charges = [
            line.charge
            for line in ClaimLine.objects.filter(claim=locked)
            .select_related("charge__insurance_policy")
            .order_by("line_number")
        ]
        if not charges:
            raise ValidationError({"claim": "The claim has no lines to send again."})
        replacement = _claim_create(charges=charges, frequency_code=frequency_code, original_claim=locked)
        locked.status = status
        locked.save()
        _claim_event(locked)
    return replacement


def claim_correct(*, claim: Claim) -> Claim:
    """A corrected claim (frequency 7) replacing an accepted or adjudicated one, ready to send with what the
    charges, patient and policy say now; the original becomes corrected."""
    return _replace(claim=claim, status=ClaimStatus.CORRECTED, frequency_code=ClaimFrequency.REPLACEMENT)


def claim_void(*, claim: Claim) -> Claim:
    """A void claim (frequency 8) cancelling an accepted or adjudicated one, ready to send; the original becomes
    voided (its charges stay with it)."""
    return _replace(claim=claim, status=ClaimStatus.VOIDED, frequency_code=ClaimFrequency.VOID)


def claims_mark_submitted(*, claims: Sequence[Claim], batch_id: uuid.UUID, at: dt.datetime) -> None:
    """The ready claims sent in a batch become submitted (each change recorded in the history)."""
    for claim in claims:
        if not claim.may_become(ClaimStatus.SUBMITTED):
            raise _refuse_transition(claim, ClaimStatus.SUBMITTED)
        claim.status = ClaimStatus.SUBMITTED
        claim.batch_id = batch_id
        claim.submitted_at = at
        claim.save(update_fields=["status", "batch", "submitted_at", "updated_at"])
        _claim_event(claim)
