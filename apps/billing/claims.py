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
from apps.organizations import bulk
from apps.organizations.roles import DataClassification

from . import services
from .models import (
    ADJUDICATED_STATUSES,
    BillingProvider,
    Claim,
    ClaimFrequency,
    ClaimLine,
    ClaimStatus,
    Denial,
    InsurancePolicy,
    LedgerEntry,
    RemittanceLine,
    RemittanceLineKind,
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
    policy: InsurancePolicy | None = None,
    primary_claim: Claim | None = None,
) -> Claim:
    """A ready claim of these charges (of one patient), one line each, numbered: billed to the charges' policy, or
    to `policy` for a secondary claim of `primary_claim` (which leaves the charges naming the primary claim)."""
    policy = policy or charges[0].insurance_policy
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
        primary_claim=primary_claim,
    )
    for line_number, charge in enumerate(charges, start=1):
        ClaimLine.objects.create(
            claim=claim,
            charge=charge,
            line_number=line_number,
            control_number=f"{claim.submitter_claim_id}-{line_number}",
        )
        if frequency_code != ClaimFrequency.VOID and primary_claim is None:
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
        secondary_charges_refresh(claims=[locked])
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
        bulk.rows_update(Claim, list(latest.values()), SAVED_ON_STATUS_CHANGE, history=False)
        bulk.history_insert(Claim, steps, history_type="~")
        event_record_many(
            event_type=event_types.CLAIM_STATUS_CHANGED,
            data_classification=DataClassification.GENERAL_WELLNESS,
            subjects=[(claim.pk, claim.patient_id, _claim_event_data(claim)) for claim in steps],
        )
        secondary_charges_refresh(claims=list(latest.values()))


def secondary_charges_refresh(*, claims: Sequence[Claim]) -> None:
    """The charges of secondary claims among `claims` take their status again: pending insurance while such a
    claim is out with its payer, what is owed on them once it is answered, rejected or voided."""
    secondary = [claim.pk for claim in claims if claim.primary_claim_id is not None]
    if secondary:
        services.charge_statuses_refresh(
            charge_ids=ClaimLine.objects.filter(claim_id__in=secondary).values_list("charge_id", flat=True)
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
        replacement = _claim_create(
            charges=charges,
            frequency_code=frequency_code,
            original_claim=locked,
            policy=locked.policy,
            primary_claim=locked.primary_claim,
        )
        locked.status = status
        locked.save()
        _claim_event(locked)
        secondary_charges_refresh(claims=[locked])
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


# --- secondary claims -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Adjustment:
    """One adjustment of the primary payer: group (CO, OA, PI, PR), reason (CARC) and amount in cents."""

    group: str
    reason: str
    cents: int


@dataclass(frozen=True)
class LineAdjudication:
    """The primary payer's answer for one service line (837P loop 2430)."""

    paid_cents: int
    adjustments: tuple[Adjustment, ...]
    adjudicated_on: dt.date


@dataclass(frozen=True)
class PrimaryAdjudication:
    """What the primary payer decided on a claim, as a secondary claim passes it on (loops 2320, 2330A/B, 2430):
    per line (by charge) its payment and adjustments; the claim-level adjustments; what it paid in all.

    When the payer answered at claim level only (a claim denied whole, with no line adjustments), `lines` is empty
    and the claim-level adjustments carry the amounts."""

    policy: InsurancePolicy
    paid_cents: int
    adjustments: tuple[Adjustment, ...]
    lines: dict[uuid.UUID, LineAdjudication]
    adjudicated_on: dt.date


def _adjustments(stored: Iterable[Sequence[object]]) -> tuple[Adjustment, ...]:
    return tuple(Adjustment(str(group), str(reason), int(str(cents))) for group, reason, cents in stored)


def primary_adjudication(*, primary: Claim) -> PrimaryAdjudication:
    """The primary payer's current answer on each line of `primary` (a posting not reversed, else an open denial),
    as its remittances stored them; refused when a line has none or an answer does not balance (the billed amount
    is the payment plus the adjustments), which a secondary payer would reject."""
    lines = list(ClaimLine.objects.filter(claim=primary).select_related("charge").order_by("line_number"))
    postings = {
        row.claim_line_id: row
        for row in RemittanceLine.objects.filter(
            claim=primary, kind=RemittanceLineKind.POSTING, reversed_by__isnull=True
        )
        .select_related("file")
        .order_by("created_at")
    }
    denials = {
        row.claim_line_id: row
        for row in Denial.objects.filter(claim=primary, resolved_at__isnull=True)
        .select_related("file")
        .order_by("created_at")
    }
    answers: list[tuple[ClaimLine, RemittanceLine | Denial]] = []
    for line in lines:
        answer: RemittanceLine | Denial | None = postings.get(line.pk) or denials.get(line.pk)
        if answer is None:
            raise ValidationError(
                {
                    "claim": f"Line {line.line_number} of claim {primary.submitter_claim_id} has no answer from the "
                    "primary payer yet."
                }
            )
        answers.append((line, answer))
    # Claim-level adjustments, once per remittance that answered the claim.
    by_file: dict[uuid.UUID, tuple[Adjustment, ...]] = {}
    for _, answer in answers:
        by_file.setdefault(answer.file_id, _adjustments(answer.claim_adjustments))
    claim_adjustments = tuple(adj for found in by_file.values() for adj in found)
    claim_level_only = all(isinstance(a, Denial) and not a.adjustments for _, a in answers) and claim_adjustments
    dates = [answer.file.paid_on or answer.file.created_at.date() for _, answer in answers]
    adjudicated_on = max(dates) if dates else primary.service_date
    if claim_level_only:
        if sum(adj.cents for adj in claim_adjustments) != primary.total_cents:
            raise _unbalanced(primary, "the claim")
        return PrimaryAdjudication(
            policy=primary.policy,
            paid_cents=0,
            adjustments=claim_adjustments,
            lines={},
            adjudicated_on=adjudicated_on,
        )
    per_line: dict[uuid.UUID, LineAdjudication] = {}
    for (line, answer), on in zip(answers, dates, strict=True):
        paid = answer.paid_cents if isinstance(answer, RemittanceLine) else 0
        adjustments = _adjustments(answer.adjustments)
        if paid + sum(adj.cents for adj in adjustments) != line.charge.amount_cents:
            raise _unbalanced(primary, f"line {line.line_number}")
        per_line[line.charge_id] = LineAdjudication(paid_cents=paid, adjustments=adjustments, adjudicated_on=on)
    return PrimaryAdjudication(
        policy=primary.policy,
        paid_cents=sum(a.paid_cents for a in per_line.values()) - sum(adj.cents for adj in claim_adjustments),
        adjustments=claim_adjustments,
        lines=per_line,
        adjudicated_on=adjudicated_on,
    )


def _unbalanced(primary: Claim, what: str) -> ValidationError:
    return ValidationError(
        {
            "claim": f"The primary payer's answer for {what} of claim {primary.submitter_claim_id} does not add up "
            "to what was billed (payment plus adjustments), or was posted before adjustments were kept: bill the "
            "secondary payer outside Kura."
        }
    )


def secondary_policy(*, claim: Claim) -> InsurancePolicy | None:
    """The patient's active secondary policy, which a secondary claim of `claim` is billed to."""
    return (
        InsurancePolicy.objects.for_current_organization()
        .filter(patient_id=claim.patient_id, priority=InsurancePolicy.Priority.SECONDARY, is_active=True)
        .select_related("payer")
        .first()
    )


def claim_create_secondary(*, claim: Claim) -> Claim:
    """A ready secondary claim of a primary claim the primary payer has adjudicated (paid, partly paid or denied,
    by an imported 835), billed to the patient's active secondary policy with the same lines; its file carries
    the primary payer's answer (loops 2320, 2330A/B and 2430). Refused, storing nothing, for a claim not yet
    adjudicated, not billed to the primary policy, already followed by a secondary claim, or of a patient
    without a secondary policy."""
    with transaction.atomic():
        lock_claims()
        locked = (
            Claim.objects.for_current_organization()
            .select_for_update()
            .select_related("policy__payer")
            .filter(pk=claim.pk)
            .first()
        )
        if locked is None:
            raise ValidationError({"claim": "No such claim."})
        if locked.primary_claim_id is not None or locked.policy.priority != InsurancePolicy.Priority.PRIMARY:
            raise ValidationError(
                {"claim": "Only a claim billed to the patient's primary policy has a secondary claim."}
            )
        if locked.status not in ADJUDICATED_STATUSES:
            raise ValidationError(
                {
                    "claim": f"Claim {locked.submitter_claim_id} is {locked.get_status_display().lower()}: the "
                    "primary payer's remittance (835) is needed before the secondary payer is billed."
                }
            )
        existing = (
            Claim.objects.for_current_organization()
            .filter(primary_claim=locked, frequency_code=ClaimFrequency.ORIGINAL)
            .exclude(status=ClaimStatus.VOIDED)
            .first()
        )
        if existing is not None:
            raise ValidationError(
                {
                    "claim": f"Claim {locked.submitter_claim_id} has a secondary claim already "
                    f"({existing.submitter_claim_id})."
                }
            )
        policy = secondary_policy(claim=locked)
        if policy is None:
            raise ValidationError({"policy": "The patient has no active secondary policy."})
        primary_adjudication(primary=locked)  # refused when the answer cannot be passed on
        charges = [
            line.charge
            for line in ClaimLine.objects.filter(claim=locked).select_related("charge").order_by("line_number")
        ]
        secondary = _claim_create(charges=charges, policy=policy, primary_claim=locked)
        secondary_charges_refresh(claims=[secondary])
        return secondary
