"""Reads for the schedule: appointments, free slots (availability minus bookings and time off, in the clinic's
zone), the today board and what check-in shows."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Model, QuerySet
from django.utils import timezone

from apps.billing.models import InsurancePolicy
from apps.organizations.models import Membership
from apps.organizations.time_zones import local_datetime, organization_zone
from apps.patients.models import Consent, Patient

from .models import (
    PROVIDER_ROLES,
    Appointment,
    AppointmentQuerySet,
    AppointmentStatus,
    AppointmentType,
    Provider,
    Room,
    TimeOff,
)

M = TypeVar("M", bound=Model)


def named_object(queryset: QuerySet[M], pk: Any, *, field: str, label: str) -> M:
    """The row `pk` names for input `field`: another organization's row, a missing one and a malformed id are all
    a 400 naming the field (never the value)."""
    try:
        return queryset.get(pk=pk)
    except (ObjectDoesNotExist, ValidationError, ValueError, TypeError):
        raise ValidationError({field: f"Unknown {label}."}) from None


def schedulable_memberships() -> QuerySet[Membership]:
    """The organization's active clinicians and coaches: who may be a provider."""
    return (
        Membership.objects.for_current_organization()
        .filter(is_active=True, role__in=PROVIDER_ROLES)
        .select_related("user")
    )


def provider_list() -> QuerySet[Provider]:
    """The organization's providers that take bookings."""
    return Provider.objects.filter(is_active=True)


def room_list() -> QuerySet[Room]:
    return Room.objects.filter(is_active=True).select_related("location")


def appointment_type_list() -> QuerySet[AppointmentType]:
    return AppointmentType.objects.filter(is_active=True)


def appointment_list(
    *,
    provider_id: uuid.UUID | None = None,
    starts_from: dt.datetime | None = None,
    starts_before: dt.datetime | None = None,
) -> AppointmentQuerySet:
    """Appointments (a coach sees their own alone: the database's policy), with what lists show, by start."""
    appointments: AppointmentQuerySet = Appointment.objects.select_related(
        "patient", "provider", "room", "appointment_type"
    )
    if provider_id is not None:
        appointments = appointments.filter(provider_id=provider_id)
    if starts_from is not None:
        appointments = appointments.filter(starts_at__gte=starts_from)
    if starts_before is not None:
        appointments = appointments.filter(starts_at__lt=starts_before)
    return appointments.order_by("starts_at", "id")


def day_bounds(day: dt.date, zone: Any = None) -> tuple[dt.datetime, dt.datetime]:
    """The first moment of `day` and of the next day, in the clinic's zone (a DST day is 23 or 25 hours)."""
    zone = zone or organization_zone()
    return local_datetime(day, dt.time(0), zone), local_datetime(day + dt.timedelta(days=1), dt.time(0), zone)


@dataclass(frozen=True)
class Slot:
    provider_id: uuid.UUID
    starts_at: dt.datetime
    ends_at: dt.datetime


def free_slots(
    *, providers: Iterable[Provider], appointment_type: AppointmentType, first_day: dt.date, last_day: dt.date
) -> list[Slot]:
    """Bookable slots of `appointment_type`'s length from `first_day` to `last_day` (local days): each provider's
    weekly hours, minus their active appointments and time off, minus what has already begun."""
    zone = organization_zone()
    length = dt.timedelta(minutes=appointment_type.duration_minutes)
    window_start, _ = day_bounds(first_day, zone)
    _, window_end = day_bounds(last_day, zone)
    now = timezone.now()
    slots: list[Slot] = []
    for provider in providers:
        busy = [
            (start, end)
            for start, end in Appointment.objects.active()
            .filter(provider=provider)
            .overlapping(window_start, window_end)
            .values_list("starts_at", "ends_at")
        ]
        busy += list(
            TimeOff.objects.filter(provider=provider, starts_at__lt=window_end, ends_at__gt=window_start).values_list(
                "starts_at", "ends_at"
            )
        )
        hours: dict[int, list[tuple[dt.time, dt.time]]] = {}
        for weekday, opens, closes in provider.availability.values_list("weekday", "starts_at", "ends_at"):
            hours.setdefault(weekday, []).append((opens, closes))
        day = first_day
        while day <= last_day:
            for opens, closes in sorted(hours.get(day.weekday(), [])):
                start = local_datetime(day, opens, zone)
                close = local_datetime(day, closes, zone)
                while start + length <= close:
                    end = start + length
                    if start >= now and not any(b_start < end and b_end > start for b_start, b_end in busy):
                        slots.append(Slot(provider.pk, start, end))
                    start = end
            day += dt.timedelta(days=1)
    return sorted(slots, key=lambda slot: (slot.starts_at, str(slot.provider_id)))


def within_availability(*, provider: Provider, starts_at: dt.datetime, ends_at: dt.datetime) -> bool:
    """Does [starts_at, ends_at) lie inside one of the provider's weekly windows and clear of their time off?"""
    zone = organization_zone()
    local_start, local_end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    if local_start.date() != local_end.date():
        return False
    inside = provider.availability.filter(
        weekday=local_start.weekday(), starts_at__lte=local_start.time(), ends_at__gte=local_end.time()
    ).exists()
    away = TimeOff.objects.filter(provider=provider, starts_at__lt=ends_at, ends_at__gt=starts_at).exists()
    return inside and not away


# --- the today board and check-in ---------------------------------------------------------------------------------

BOARD_COLUMNS = {
    "expected": (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED),
    "arrived": (AppointmentStatus.CHECKED_IN,),
    "in_session": (AppointmentStatus.IN_SESSION,),
    "done": (AppointmentStatus.COMPLETED,),
}


def today_board(*, day: dt.date | None = None) -> dict[str, list[Appointment]]:
    """Today's (or `day`'s) active appointments in the clinic's zone, by where the patient is."""
    day = day or timezone.localdate(timezone=organization_zone())
    start, end = day_bounds(day)
    board: dict[str, list[Appointment]] = {column: [] for column in BOARD_COLUMNS}
    for appointment in appointment_list(starts_from=start, starts_before=end).active():
        for column, statuses in BOARD_COLUMNS.items():
            if appointment.status in statuses:
                board[column].append(appointment)
    return board


def day_visits(*, user_id: int, whole_clinic: bool, day: dt.date | None = None) -> list[Appointment]:
    """Today's (or `day`'s) visits in the clinic's zone, cancelled ones left out: the whole clinic's, or those of
    the provider who is the member `user_id` (none for a member who sees no patients)."""
    day = day or timezone.localdate(timezone=organization_zone())
    start, end = day_bounds(day)
    visits = appointment_list(starts_from=start, starts_before=end).active()
    if not whole_clinic:
        visits = visits.filter(provider__membership__user_id=user_id)
    return list(visits)


@dataclass(frozen=True)
class CheckInStatus:
    """What the front desk confirms when a patient arrives."""

    treatment_consent: bool
    data_sharing_consent: bool
    insurance_on_file: bool


def check_in_status(*, patient: Patient) -> CheckInStatus:
    """Valid treatment and data-sharing consents now, and an active insurance policy, for `patient`."""
    valid = set(
        Consent.objects.valid_at()
        .filter(patient=patient, consent_type__in=[Consent.Type.TREATMENT, Consent.Type.DATA_SHARING])
        .values_list("consent_type", flat=True)
    )
    return CheckInStatus(
        treatment_consent=Consent.Type.TREATMENT in valid,
        data_sharing_consent=Consent.Type.DATA_SHARING in valid,
        insurance_on_file=InsurancePolicy.objects.filter(patient=patient, is_active=True).exists(),
    )
