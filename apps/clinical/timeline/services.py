"""Writes for the timeline and assessments. Each validates everything first, then writes in one transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.events import types as event_types
from apps.events.services import event_record
from apps.organizations import context
from apps.organizations.access import require_phi_write
from apps.organizations.clock import is_in_the_future
from apps.organizations.roles import DataClassification
from apps.patients.models import Patient

from ..models import AssessmentDefinition, AssessmentFlag, AssessmentResponse, HealthEvent
from . import scoring
from .schemas import validate_event_data
from .vocabulary import EVENT_SUBTYPES, EventType, Source, default_classification

REVIEW_COMMENT_MAX_LENGTH = 2000


def _tenant() -> context.TenantContext:
    ctx = context.current()
    if ctx is None:
        raise RuntimeError("Timeline writes need a tenant context.")
    return ctx


def _validate_time(name: str, value: datetime) -> None:
    if timezone.is_naive(value):
        raise ValidationError({name: "Give a timezone-aware time."})
    if is_in_the_future(value):
        raise ValidationError({name: "Cannot be in the future."})
    if value.year < 1900:
        raise ValidationError({name: "Must be in 1900 or later."})


def _resolve_source(ctx: context.TenantContext, source: str | None) -> str:
    allowed = (
        {Source.PARTNER.value, Source.PATIENT_APP.value}
        if ctx.is_partner
        else {
            Source.STAFF.value,
            Source.PATIENT_APP.value,
        }
    )
    if source is None:
        return Source.PARTNER.value if ctx.is_partner else Source.STAFF.value
    if source not in allowed:
        raise ValidationError({"source": f"Must be one of: {', '.join(sorted(allowed))}."})
    return source


def _resolve_classification(event_type: str, requested: str | None) -> str:
    default = default_classification(event_type)
    if requested is None:
        classification = default
    elif requested not in DataClassification.values:
        raise ValidationError({"data_classification": f"Must be one of: {', '.join(DataClassification.values)}."})
    elif default == DataClassification.CLINICAL_PHI and requested != default:
        raise ValidationError({"data_classification": f"A {event_type} event is always CLINICAL_PHI."})
    else:
        classification = requested
    require_phi_write(classification)
    return classification


def _validate_type(event_type: Any, event_subtype: Any) -> None:
    if event_type not in EventType.values:
        raise ValidationError({"event_type": f"Unknown event type; use one of: {', '.join(EventType.values)}."})
    subtypes = EVENT_SUBTYPES[event_type]
    if event_subtype not in subtypes:
        raise ValidationError(
            {"event_subtype": f"Unknown subtype for a {event_type} event; use one of: {', '.join(subtypes)}."}
        )


def _insert(event: HealthEvent) -> HealthEvent:
    try:
        with transaction.atomic():
            event.save(force_insert=True)
    except IntegrityError as error:
        if event.supersedes_id and "healthevent_superseded_once" in str(error):
            raise ValidationError({"supersedes": "This event has already been corrected."}) from None
        raise
    return event


def health_event_record(
    *,
    patient: Patient,
    event_type: str,
    event_subtype: str,
    event_data: dict[str, Any],
    occurred_at: datetime,
    source: str | None = None,
    data_classification: str | None = None,
    supersedes: HealthEvent | None = None,
) -> HealthEvent:
    """Append an event to a patient's timeline; with `supersedes`, it is a correction of that earlier event."""
    ctx = _tenant()
    _validate_type(event_type, event_subtype)
    if event_type == EventType.ASSESSMENT:
        raise ValidationError({"event_type": "Assessment events are recorded by completing an assessment."})
    _validate_time("occurred_at", occurred_at)
    data = validate_event_data(event_type, event_subtype, event_data)
    resolved_source = _resolve_source(ctx, source)
    if supersedes is not None:
        if supersedes.patient_id != patient.pk or supersedes.event_type != event_type:
            raise ValidationError({"supersedes": "A correction must be for the same patient and event type."})
        if HealthEvent.objects.filter(supersedes=supersedes).exists():
            raise ValidationError({"supersedes": "This event has already been corrected."})
        # A correction is never less protected than what it corrects.
        if data_classification is None:
            data_classification = supersedes.data_classification
    classification = _resolve_classification(event_type, data_classification)
    return _insert(
        HealthEvent(
            patient=patient,
            organization_id=patient.organization_id,
            event_type=event_type,
            event_subtype=event_subtype,
            event_data=data,
            occurred_at=occurred_at,
            source=resolved_source,
            data_classification=classification,
            supersedes=supersedes,
        )
    )


def assessment_definition_create(
    *, code: str, name: str, items: list[str], min_answer: int, max_answer: int, bands: list[dict[str, Any]]
) -> AssessmentDefinition:
    """Define an organization's own instrument; its bands must cover every possible total."""
    if code in scoring.BUILTIN_INSTRUMENTS:
        raise ValidationError({"code": "This code belongs to a built-in instrument."})
    if not isinstance(items, list) or not 1 <= len(items) <= 50:
        raise ValidationError({"items": "Give 1-50 questions."})
    if not all(isinstance(item, str) and 1 <= len(item.strip()) <= 500 for item in items):
        raise ValidationError({"items": "Each question must be 1-500 characters."})
    if not 0 <= min_answer < max_answer <= 100:
        raise ValidationError({"max_answer": "Must be greater than min_answer and at most 100."})
    validate_bands = scoring.validate_bands(bands, min_total=min_answer * len(items), max_total=max_answer * len(items))
    if AssessmentDefinition.objects.for_current_organization().filter(code=code).exists():
        raise ValidationError({"code": "An assessment with this code already exists in this organization."})
    definition = AssessmentDefinition(
        code=code,
        name=name,
        items=[item.strip() for item in items],
        min_answer=min_answer,
        max_answer=max_answer,
        bands=[{"min": b.minimum, "max": b.maximum, "label": b.label} for b in validate_bands],
    )
    definition.full_clean(exclude=["organization"], validate_constraints=False)
    try:
        with transaction.atomic():
            definition.save(force_insert=True)
    except IntegrityError as error:
        if "assessmentdefinition_code_per_org" in str(error):
            raise ValidationError(
                {"code": "An assessment with this code already exists in this organization."}
            ) from None
        raise
    return definition


def _instrument_for(code: str) -> tuple[scoring.Instrument, AssessmentDefinition | None]:
    if code in scoring.BUILTIN_INSTRUMENTS:
        return scoring.BUILTIN_INSTRUMENTS[code], None
    definition = AssessmentDefinition.objects.for_current_organization().filter(code=code, is_active=True).first()
    if definition is None:
        raise ValidationError({"instrument": "Unknown assessment."})
    return scoring.custom_instrument(definition), definition


@transaction.atomic
def assessment_complete(
    *,
    patient: Patient,
    instrument: str,
    answers: list[int],
    completed_at: datetime | None = None,
    source: str | None = None,
) -> AssessmentResponse:
    """Score a completed assessment, store it with its timeline event, and flag PHQ-9 item 9 above 0."""
    ctx = _tenant()
    require_phi_write(DataClassification.CLINICAL_PHI)  # an assessment is always CLINICAL_PHI
    resolved, definition = _instrument_for(instrument)
    result = scoring.score(resolved, answers)
    completed_at = completed_at or timezone.now()
    _validate_time("completed_at", completed_at)
    resolved_source = _resolve_source(ctx, source)

    response_id = uuid.uuid4()
    event = _insert(
        HealthEvent(
            patient=patient,
            organization_id=patient.organization_id,
            event_type=EventType.ASSESSMENT,
            event_subtype=resolved.code if resolved.builtin else "custom",
            event_data=validate_event_data(
                EventType.ASSESSMENT,
                "custom",
                {
                    "response_id": str(response_id),
                    "instrument": resolved.code,
                    "total": result.total,
                    "severity": result.severity,
                },
            ),
            occurred_at=completed_at,
            source=resolved_source,
            data_classification=DataClassification.CLINICAL_PHI,
        )
    )
    response = AssessmentResponse.objects.create(
        id=response_id,
        organization_id=patient.organization_id,
        patient=patient,
        instrument=resolved.code,
        definition=definition,
        answers=list(answers),
        total=result.total,
        subscales=result.subscales,
        severity=result.severity,
        completed_at=completed_at,
        health_event=event,
        data_classification=DataClassification.CLINICAL_PHI,
    )
    event_record(
        event_type=event_types.ASSESSMENT_COMPLETED,
        subject_id=response.pk,
        patient_id=patient.pk,
        data_classification=response.data_classification,
        data={"instrument": response.instrument},
        occurred_at=completed_at,
    )
    if resolved.code == scoring.PHQ9.code and answers[scoring.PHQ9_SELF_HARM_ITEM] > 0:
        flag = AssessmentFlag.objects.create(
            organization_id=patient.organization_id,
            patient=patient,
            response=response,
            reason=AssessmentFlag.Reason.PHQ9_ITEM9,
            data_classification=DataClassification.CLINICAL_PHI,
        )
        event_record(
            event_type=event_types.FLAG_RAISED,
            subject_id=flag.pk,
            patient_id=patient.pk,
            data_classification=flag.data_classification,
            data={"reason": flag.reason},
        )
    return response


def assessment_flag_review(*, flag: AssessmentFlag, user_id: int | None, action: str, comment: str) -> AssessmentFlag:
    """Record a clinician's review of a flag: what they did (`action`), a comment, who and when. Once only."""
    errors: dict[str, str] = {}
    if action not in AssessmentFlag.ReviewAction.values:
        errors["action"] = f"Choose one of: {', '.join(AssessmentFlag.ReviewAction.values)}."
    comment = comment.strip() if isinstance(comment, str) else ""
    if not comment:
        errors["comment"] = "Say what was done and why."
    elif len(comment) > REVIEW_COMMENT_MAX_LENGTH:
        errors["comment"] = f"At most {REVIEW_COMMENT_MAX_LENGTH} characters."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = AssessmentFlag.objects.select_for_update().get(pk=flag.pk)
        if current.reviewed_at is not None:
            raise ValidationError({"flag": "This flag has been reviewed already."})
        current.reviewed_at, current.reviewed_by_id = timezone.now(), user_id
        current.review_action, current.review_comment = action, comment
        current.save(update_fields=["reviewed_at", "reviewed_by", "review_action", "review_comment", "updated_at"])
    return current
