"""Writes for the clinical record. A hub event and its detail rows are created together or not at all."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone

from apps.events import types as event_types
from apps.events.services import event_record
from apps.organizations.access import require_phi_write
from apps.organizations.clock import is_in_the_future
from apps.organizations.roles import DataClassification
from apps.patients.models import Patient

from . import vitals
from .models import SPOKES, ClinicalEvent, Encounter, MedicalCodeAssignment, Spoke

# A request may carry at most this many detail rows and codes per event.
MAX_ROWS_PER_EVENT = 100
# Set by the service from the hub event, never by the caller.
PROTECTED_SPOKE_FIELDS = frozenset(
    {
        "id",
        "event",
        "event_id",
        "patient",
        "patient_id",
        "organization",
        "organization_id",
        "data_classification",
        "created_at",
        "updated_at",
    }
)
HUB_FIELDS = frozenset(
    {
        "activity_type",
        "clinical_purposes",
        "event_name",
        "method",
        "body_site",
        "performed_by",
        "facility_name",
        "event_date",
        "source_document",
        "clinical_identity_key",
        "data_classification",
    }
)


def _prefixed(error: ValidationError, prefix: str) -> ValidationError:
    """Field errors renamed `<prefix>.<field>` so a caller can tell which row of a payload was wrong."""
    return ValidationError(
        {
            f"{prefix}.{field}" if field != NON_FIELD_ERRORS else prefix: messages
            for field, messages in error.message_dict.items()
        }
    )


def encounter_create(
    *,
    patient: Patient,
    encounter_type: str,
    started_at: datetime,
    ended_at: datetime | None = None,
    place_of_service: str = Encounter.PlaceOfService.OFFICE,
    provider_name: str = "",
    facility_name: str = "",
    reason: str = "",
    data_classification: str = DataClassification.CLINICAL_PHI,
    appointment: Any = None,
) -> Encounter:
    """Open an encounter (a visit) for a patient of the active organization (for `appointment` at check-in)."""
    encounter = Encounter(
        patient=patient,
        appointment=appointment,
        encounter_type=encounter_type,
        started_at=started_at,
        ended_at=ended_at,
        place_of_service=place_of_service,
        provider_name=provider_name,
        facility_name=facility_name,
        reason=reason,
        data_classification=data_classification,
    )
    encounter.full_clean(exclude=["organization"])
    require_phi_write(encounter.data_classification)
    with transaction.atomic():
        encounter.save()
        event_record(
            event_type=event_types.ENCOUNTER_CREATED,
            subject_id=encounter.pk,
            patient_id=patient.pk,
            data_classification=encounter.data_classification,
            data={"encounter_type": encounter.encounter_type},
        )
    return encounter


def _build_spokes(event: ClinicalEvent, details: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[Spoke]:
    errors: dict[str, Any] = {}
    rows: list[Spoke] = []
    for spoke_type, items in details.items():
        model = SPOKES.get(spoke_type)
        if model is None:
            errors[f"details.{spoke_type}"] = [f"Unknown detail type; use one of: {', '.join(sorted(SPOKES))}."]
            continue
        for index, fields in enumerate(items):
            protected = PROTECTED_SPOKE_FIELDS
            unknown = set(fields) - {f.name for f in model._meta.concrete_fields} | (set(fields) & protected)
            if unknown:
                errors.update(
                    {f"details.{spoke_type}[{index}].{name}": ["This field cannot be set."] for name in unknown}
                )
                continue
            # The spoke inherits the event's patient, organization and classification.
            spoke = model(**fields)
            spoke.event, spoke.patient = event, event.patient  # type: ignore[attr-defined]
            spoke.data_classification = event.data_classification
            try:
                spoke.full_clean(exclude=["organization", "event", "patient"])
            except ValidationError as error:
                errors.update(_prefixed(error, f"details.{spoke_type}[{index}]").message_dict)
            rows.append(spoke)
    if errors:
        raise ValidationError(errors)
    return rows


def _build_codes(event: ClinicalEvent, codes: Sequence[Mapping[str, Any]]) -> list[MedicalCodeAssignment]:
    errors: dict[str, Any] = {}
    rows = []
    seen: set[tuple[str, str]] = set()
    for index, fields in enumerate(codes):
        assignment = MedicalCodeAssignment(
            event=event,
            data_classification=event.data_classification,
            code_system=fields.get("code_system", ""),
            code=fields.get("code", ""),
            display=fields.get("display", ""),
            is_primary=bool(fields.get("is_primary", False)),
        )
        try:
            assignment.full_clean(exclude=["organization", "event"], validate_constraints=False)
        except ValidationError as error:
            errors.update(_prefixed(error, f"codes[{index}]").message_dict)
            continue
        key = (assignment.code_system, assignment.code)
        if key in seen:
            errors[f"codes[{index}].code"] = ["This code is listed twice."]
        seen.add(key)
        rows.append(assignment)
    if errors:
        raise ValidationError(errors)
    return rows


def clinical_event_create(
    *,
    patient: Patient,
    event: Mapping[str, Any],
    details: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    codes: Sequence[Mapping[str, Any]] = (),
    encounter: Encounter | None = None,
) -> ClinicalEvent:
    """Create a hub event with its detail rows (spokes) and codes in one transaction: all of it or nothing.

    `details` maps a detail type ("vitals", "medications", ...) to rows of fields. Every row is validated
    before anything is written; the first invalid row anywhere means nothing is stored.
    """
    return _event_create(patient=patient, event=event, details=details, codes=codes, encounter=encounter)


def _event_create(
    *,
    patient: Patient,
    event: Mapping[str, Any],
    details: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    codes: Sequence[Mapping[str, Any]] = (),
    encounter: Encounter | None = None,
    is_synthetic: bool = False,
) -> ClinicalEvent:
    details = details or {}
    unknown = set(event) - HUB_FIELDS
    if unknown:
        raise ValidationError({f"event.{name}": "This field cannot be set." for name in sorted(unknown)})
    row_count = sum(len(items) for items in details.values()) + len(codes)
    if row_count > MAX_ROWS_PER_EVENT:
        raise ValidationError({"details": f"At most {MAX_ROWS_PER_EVENT} detail rows and codes per event."})
    hub = ClinicalEvent(patient=patient, encounter=encounter, is_synthetic=is_synthetic, **event)
    try:
        hub.full_clean(exclude=["organization", "patient"])
    except ValidationError as error:
        raise _prefixed(error, "event") from None
    require_phi_write(hub.data_classification)
    spokes = _build_spokes(hub, details)
    assignments = _build_codes(hub, codes)
    with transaction.atomic():
        hub.save()
        for spoke in spokes:
            spoke.save()
        for assignment in assignments:
            assignment.save()
    return hub


def clinical_entry_record_manual(
    *,
    patient: Patient,
    spoke_type: str,
    fields: Mapping[str, Any],
    recorded_at: datetime | None = None,
    data_classification: str = DataClassification.CLINICAL_PHI,
) -> ClinicalEvent:
    """Manual entry without a source document: a synthetic hub event (purpose self_monitoring) plus the row."""
    model = SPOKES.get(spoke_type)
    if model is None:
        raise ValidationError({"spoke_type": f"Unknown detail type; use one of: {', '.join(sorted(SPOKES))}."})
    return _event_create(
        patient=patient,
        is_synthetic=True,
        event={
            "activity_type": ClinicalEvent.ActivityType.OBSERVATION,
            "clinical_purposes": [ClinicalEvent.Purpose.SELF_MONITORING],
            "event_name": f"Manual entry: {model._meta.verbose_name}",
            "event_date": recorded_at or timezone.now(),
            "data_classification": data_classification,
        },
        details={spoke_type: [fields]},
    )


def clinical_event_delete(*, event: ClinicalEvent) -> None:
    """Hard-delete an event entered in error; its detail rows go with it and the history keeps both."""
    with transaction.atomic():
        event.delete()


def vitals_record(
    *,
    patient: Patient,
    measured_at: datetime,
    readings: Mapping[str, tuple[str, str | None]],
    clinical_purposes: Sequence[str] = (ClinicalEvent.Purpose.MONITORING,),
    encounter: Encounter | None = None,
    data_classification: str = DataClassification.CLINICAL_PHI,
) -> ClinicalEvent:
    """Record vital signs as typed (`readings`: {vital type: (text, unit or None)}, e.g. {"blood_pressure":
    ("128/82", None), "weight": ("180", "lb")}) as one synthetic hub event with a detail row per reading.

    Errors are keyed by the vital type (or `measured_at`, `clinical_purposes`, `readings`); nothing is stored
    unless every reading is valid."""
    rows, errors = vitals.vital_rows(dict(readings), measured_at)
    if is_in_the_future(measured_at):
        errors["measured_at"] = "This time is in the future."
    purposes = list(clinical_purposes)
    if not purposes or not set(purposes) <= set(ClinicalEvent.Purpose.values):
        errors["clinical_purposes"] = f"Choose one or more of: {', '.join(ClinicalEvent.Purpose.values)}."
    if not rows and not errors:
        errors["readings"] = "Enter at least one vital sign."
    if errors:
        raise ValidationError(errors)
    return _event_create(
        patient=patient,
        encounter=encounter,
        is_synthetic=True,
        event={
            "activity_type": ClinicalEvent.ActivityType.OBSERVATION,
            "clinical_purposes": purposes,
            "event_name": "Vital signs",
            "event_date": measured_at,
            "data_classification": data_classification,
        },
        details={"vitals": rows},
    )
