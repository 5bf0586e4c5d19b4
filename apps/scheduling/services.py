"""Writes to the schedule: booking, status changes, cancellation and no-show, rescheduling, recurring series,
check-in and reminders' bookkeeping.

Overlaps are refused by PostgreSQL's exclusion constraints, which see every organization's concurrent writes
alike; a refused booking becomes `SlotTakenError` (the API's 409, the calendar's form error), never a 500.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.billing import services as billing_services
from apps.billing.models import InsurancePolicy
from apps.clinical import services as clinical_services
from apps.clinical.models import Condition, Encounter, MedicalCodeAssignment
from apps.codes import CodeSystem
from apps.events import types as event_types
from apps.events.services import event_record
from apps.organizations import context
from apps.organizations.access import require_phi_write
from apps.organizations.roles import DataClassification
from apps.organizations.time_zones import local_datetime, organization_zone
from apps.patients.models import Patient

from . import selectors
from .models import (
    Appointment,
    AppointmentReason,
    AppointmentStatus,
    AppointmentType,
    Provider,
    RecurringSeries,
    Room,
)

# The exclusion constraints, and what each refusal tells the caller (field, message).
OVERLAP_CONSTRAINTS = {
    "appointment_provider_no_overlap": ("provider_id", "The provider already has an appointment at this time."),
    "appointment_room_no_overlap": ("room_id", "The room is already booked at this time."),
}

# Status changes `appointment_transition` makes; cancelling, no-show and check-in have their own services.
TRANSITIONS: dict[str, frozenset[str]] = {
    AppointmentStatus.BOOKED: frozenset({AppointmentStatus.CONFIRMED}),
    AppointmentStatus.CONFIRMED: frozenset(),
    AppointmentStatus.CHECKED_IN: frozenset({AppointmentStatus.IN_SESSION}),
    AppointmentStatus.IN_SESSION: frozenset({AppointmentStatus.COMPLETED}),
}
# How far ahead anything may be booked.
BOOKING_HORIZON = dt.timedelta(days=2 * 366)

# Before the patient arrives an appointment may still be moved, cancelled, checked in or marked a no-show.
NOT_YET_ARRIVED = frozenset({AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED})


class SlotTakenError(Exception):
    """The provider or the room is already booked for (part of) the time asked for."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _overlap(error: IntegrityError) -> SlotTakenError | None:
    diag = getattr(error.__cause__, "diag", None)
    known = OVERLAP_CONSTRAINTS.get(getattr(diag, "constraint_name", None) or "")
    return SlotTakenError(*known) if known else None


def _appointment_event(appointment: Appointment, *, booked: bool = False) -> None:
    """The outbox event of a booking or a change: times, status and provider, never the clinical reason."""
    event_record(
        event_type=event_types.APPOINTMENT_BOOKED if booked else event_types.APPOINTMENT_CHANGED,
        subject_id=appointment.pk,
        patient_id=appointment.patient_id,
        data_classification=DataClassification.GENERAL_WELLNESS,
        data={
            "status": appointment.status,
            "starts_at": appointment.starts_at.isoformat(),
            "ends_at": appointment.ends_at.isoformat(),
            "provider_id": str(appointment.provider_id),
        },
    )


def _save_holding_time(appointment: Appointment) -> None:
    """Save in a savepoint, with its outbox event; an overlap PostgreSQL refuses becomes `SlotTakenError`."""
    booked = appointment._state.adding
    try:
        with transaction.atomic():
            appointment.save()
            _appointment_event(appointment, booked=booked)
    except IntegrityError as error:
        taken = _overlap(error)
        if taken is None:
            raise
        raise taken from None


def _within_horizon(starts_at: dt.datetime, field: str = "starts_at") -> None:
    if timezone.is_naive(starts_at):
        raise ValidationError({field: "Give the time with its UTC offset."})
    if starts_at - timezone.now() > BOOKING_HORIZON:
        raise ValidationError({field: "Book at most two years ahead."})


def _validate_time(
    *, provider: Provider, starts_at: dt.datetime, ends_at: dt.datetime, override_availability: bool
) -> bool:
    """Refuse impossible or past times; answer whether the time lies outside the provider's availability (which
    only an explicit override allows)."""
    if timezone.is_naive(starts_at) or timezone.is_naive(ends_at):
        raise ValidationError({"starts_at": "Give the time with its UTC offset."})
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": "An appointment must end after it starts."})
    if starts_at < timezone.now():
        raise ValidationError({"starts_at": "An appointment cannot be booked in the past."})
    if ends_at - starts_at > dt.timedelta(hours=12):
        raise ValidationError({"ends_at": "An appointment lasts at most 12 hours."})
    outside = not selectors.within_availability(provider=provider, starts_at=starts_at, ends_at=ends_at)
    if outside and not override_availability:
        raise ValidationError(
            {"starts_at": "Outside the provider's availability; confirm with override_availability to book anyway."}
        )
    return outside


def _validate_parties(*, provider: Provider, room: Room | None, appointment_type: AppointmentType) -> None:
    errors = {}
    if not provider.is_active:
        errors["provider_id"] = "This provider takes no bookings."
    if room is not None and not room.is_active:
        errors["room_id"] = "This room is not in use."
    if not appointment_type.is_active:
        errors["appointment_type_id"] = "This appointment type is retired."
    if errors:
        raise ValidationError(errors)


def appointment_book(
    *,
    patient: Patient,
    provider: Provider,
    appointment_type: AppointmentType,
    starts_at: dt.datetime,
    ends_at: dt.datetime | None = None,
    room: Room | None = None,
    reason: str = "",
    override_availability: bool = False,
    series: RecurringSeries | None = None,
) -> Appointment:
    """Book an appointment (it ends after the type's duration unless `ends_at` says otherwise)."""
    _within_horizon(starts_at)
    if ends_at is not None:
        _within_horizon(ends_at, "ends_at")
    ends_at = ends_at or starts_at + dt.timedelta(minutes=appointment_type.duration_minutes)
    _validate_parties(provider=provider, room=room, appointment_type=appointment_type)
    outside = _validate_time(
        provider=provider, starts_at=starts_at, ends_at=ends_at, override_availability=override_availability
    )
    reason = reason.strip()
    if len(reason) > 500:
        raise ValidationError({"reason": "At most 500 characters."})
    if reason:
        require_phi_write(DataClassification.CLINICAL_PHI)
    appointment = Appointment(
        patient=patient,
        provider=provider,
        room=room,
        appointment_type=appointment_type,
        series=series,
        starts_at=starts_at,
        ends_at=ends_at,
        outside_availability=outside,
    )
    appointment.full_clean(
        exclude=["organization", "patient", "provider", "room", "appointment_type", "series"],
        validate_constraints=False,
    )
    with transaction.atomic():
        _save_holding_time(appointment)
        if reason:
            AppointmentReason.objects.create(appointment=appointment, text=reason)
    return appointment


def _locked(appointment: Appointment) -> Appointment:
    """The appointment re-read under a row lock: concurrent status changes queue instead of overwriting."""
    return Appointment.objects.select_for_update(of=("self",)).get(pk=appointment.pk)


def appointment_reschedule(
    *,
    appointment: Appointment,
    starts_at: dt.datetime,
    ends_at: dt.datetime | None = None,
    room: Room | None = None,
    override_availability: bool = False,
) -> Appointment:
    """Move a not-yet-arrived appointment (one occurrence of a series moves alone). The room stays unless given."""
    with transaction.atomic():
        current = _locked(appointment)
        if current.status not in NOT_YET_ARRIVED:
            raise ValidationError({"status": "Only a booked or confirmed appointment can be moved."})
        _within_horizon(starts_at)
        if ends_at is not None:
            _within_horizon(ends_at, "ends_at")
        length = current.ends_at - current.starts_at
        ends_at = ends_at or starts_at + length
        new_room = room if room is not None else current.room
        _validate_parties(provider=current.provider, room=new_room, appointment_type=current.appointment_type)
        current.outside_availability = _validate_time(
            provider=current.provider,
            starts_at=starts_at,
            ends_at=ends_at,
            override_availability=override_availability,
        )
        current.starts_at, current.ends_at, current.room = starts_at, ends_at, new_room
        current.reminder_sent_at = None
        _save_holding_time(current)
    return current


def appointment_cancel(*, appointment: Appointment, reason: str, no_show: bool = False) -> Appointment:
    """Cancel (or record a no-show of) a not-yet-arrived appointment, with who, when and why (not clinical)."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why (e.g. patient called, no answer)."})
    if len(reason) > 200:
        raise ValidationError({"reason": "At most 200 characters."})
    with transaction.atomic():
        current = _locked(appointment)
        if current.status not in NOT_YET_ARRIVED:
            raise ValidationError({"status": f"A {current.get_status_display().lower()} appointment cannot change."})
        current.status = AppointmentStatus.NO_SHOW if no_show else AppointmentStatus.CANCELLED
        current.cancelled_at = timezone.now()
        current.cancelled_by_id = context.current_user_id()
        current.cancellation_reason = reason
        current.save()
        _appointment_event(current)
    return current


@dataclass(frozen=True)
class CheckIn:
    appointment: Appointment
    encounter: Encounter
    status: selectors.CheckInStatus


def appointment_check_in(*, appointment: Appointment) -> CheckIn:
    """The patient has arrived: the appointment is checked in and the encounter for the visit is opened."""
    with transaction.atomic():
        current = _locked(appointment)
        if current.status not in NOT_YET_ARRIVED:
            raise ValidationError({"status": f"A {current.get_status_display().lower()} appointment cannot check in."})
        now = timezone.now()
        current.status = AppointmentStatus.CHECKED_IN
        current.checked_in_at = now
        current.save()
        _appointment_event(current)
        telehealth = current.appointment_type.is_telehealth
        encounter = clinical_services.encounter_create(
            patient=current.patient,
            encounter_type=Encounter.Type.TELEHEALTH if telehealth else Encounter.Type.OUTPATIENT,
            place_of_service=(
                Encounter.PlaceOfService.TELEHEALTH_HOME if telehealth else Encounter.PlaceOfService.OFFICE
            ),
            started_at=now,
            provider_name=current.provider.display_name,
            facility_name=current.room.location.name if current.room else "",
            appointment=current,
        )
    return CheckIn(current, encounter, selectors.check_in_status(patient=current.patient))


def appointment_transition(
    *, appointment: Appointment, status: str, diagnosis_codes: list[str] | None = None
) -> Appointment:
    """Move an appointment along booked → confirmed, checked in → in session → completed. Completing records the
    visit's charge from the appointment type when the organization captures charges (it needs the diagnoses)."""
    with transaction.atomic():
        current = _locked(appointment)
        if status not in TRANSITIONS.get(current.status, frozenset()):
            raise ValidationError(
                {"status": f"A {current.get_status_display().lower()} appointment cannot become {status}."}
            )
        current.status = status
        if status == AppointmentStatus.COMPLETED:
            current.completed_at = timezone.now()
        current.save()
        _appointment_event(current)
        if status == AppointmentStatus.COMPLETED:
            _capture_charge(current, diagnosis_codes or [])
    return current


def _capture_charge(appointment: Appointment, diagnosis_codes: list[str]) -> None:
    kind = appointment.appointment_type
    if not appointment.organization.charge_capture or not kind.service_code:
        return
    encounter = Encounter.objects.filter(appointment=appointment).first()
    if encounter is not None and encounter.ended_at is None:
        encounter.ended_at = appointment.completed_at
        encounter.save(update_fields=["ended_at", "updated_at"])
    policy = (
        InsurancePolicy.objects.filter(patient_id=appointment.patient_id, is_active=True).order_by("priority").first()
    )
    diagnoses = diagnosis_codes or active_diagnosis_codes(patient=appointment.patient)
    try:
        billing_services.charge_create(
            patient=appointment.patient,
            transaction_type="clinical_service",
            amount_cents=kind.fee_cents,
            metadata={"cpt_code": kind.service_code, "diagnosis_codes": diagnoses},
            service_date=timezone.localdate(appointment.starts_at, timezone=organization_zone()),
            description=kind.name,
            encounter=encounter,
            insurance_policy=policy,
        )
    except ValidationError as error:
        if "metadata.diagnosis_codes" in getattr(error, "error_dict", {}):
            raise ValidationError(
                {"diagnosis_codes": "Give the visit's ICD-10-CM codes: its charge needs them."}
            ) from None
        raise


def active_diagnosis_codes(*, patient: Patient) -> list[str]:
    """The ICD-10-CM codes of the patient's active conditions (primary first, at most 12): a visit's default
    diagnoses when the clinician names none."""
    codes = (
        MedicalCodeAssignment.objects.filter(
            event__patient=patient,
            event__conditions__clinical_status=Condition.ClinicalStatus.ACTIVE,
            code_system=CodeSystem.ICD10CM,
        )
        .order_by("-is_primary", "code")
        .values_list("code", flat=True)
    )
    return list(dict.fromkeys(codes))[:12]


def series_book(
    *,
    patient: Patient,
    provider: Provider,
    appointment_type: AppointmentType,
    first_starts_at: dt.datetime,
    frequency: str,
    occurrences: int,
    room: Room | None = None,
    reason: str = "",
    override_availability: bool = False,
) -> RecurringSeries:
    """Book `occurrences` appointments, weekly or every two weeks, at the same local time (across DST changes):
    all or none."""
    if frequency not in RecurringSeries.Frequency.values:
        raise ValidationError({"frequency": "Use weekly or biweekly."})
    if not isinstance(occurrences, int) or not 2 <= occurrences <= 52:
        raise ValidationError({"occurrences": "Book 2 to 52 occurrences."})
    _within_horizon(first_starts_at)
    zone = organization_zone()
    local = first_starts_at.astimezone(zone)
    step = 7 if frequency == RecurringSeries.Frequency.WEEKLY else 14
    with transaction.atomic():
        series = RecurringSeries.objects.create(frequency=frequency, occurrences=occurrences)
        for number in range(occurrences):
            starts_at = local_datetime(local.date() + dt.timedelta(days=step * number), local.time(), zone)
            try:
                appointment_book(
                    patient=patient,
                    provider=provider,
                    appointment_type=appointment_type,
                    starts_at=starts_at,
                    room=room,
                    reason=reason,
                    override_availability=override_availability,
                    series=series,
                )
            except SlotTakenError as taken:
                raise SlotTakenError(taken.field, f"Occurrence {number + 1}: {taken.message}") from None
            except ValidationError as error:
                raise ValidationError(
                    {key: [f"Occurrence {number + 1}: {m}" for m in value] for key, value in error.message_dict.items()}
                ) from None
    return series


def reminder_mark_sent(*, appointment: Appointment, at: Any = None) -> None:
    """Record that the day-before reminder went out (so it goes out once)."""
    appointment.reminder_sent_at = at or timezone.now()
    appointment.save(update_fields=["reminder_sent_at", "updated_at"])
