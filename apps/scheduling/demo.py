"""Demo schedule for `seed_demo` (idempotent; runs inside the tenant context as the owner): the clinic's zone and
hours, providers with weekly hours, rooms, appointment types, two weeks of past and future appointments with some
cancellations and no-shows, a recurring series, time off, and today's arrivals."""

from __future__ import annotations

import datetime as dt
from itertools import cycle

from django.utils import timezone

from apps.organizations import context
from apps.organizations.models import Membership, Organization
from apps.organizations.roles import Role
from apps.organizations.time_zones import local_datetime, organization_zone
from apps.patients.models import Patient

from . import services
from .models import (
    Appointment,
    AppointmentReason,
    AppointmentStatus,
    AppointmentType,
    Location,
    Provider,
    Room,
    TimeOff,
    WeeklyAvailability,
)

ZONES = {"harbor": "America/Los_Angeles", "summit": "America/Denver"}
ADDRESSES = {"harbor": "100 Harbor Way, Portland, OR 97201", "summit": "8 Summit Road, Boulder, CO 80302"}
# Local start times of each provider's demo day.
CLINICIAN_HOURS = (dt.time(9), dt.time(10), dt.time(11), dt.time(14))
COACH_HOURS = (dt.time(10, 30), dt.time(15))
REASONS = cycle(["Follow-up: anxiety", "Medication review", "Sleep difficulties", "Low mood, weekly therapy"])


def seed(*, slug: str) -> None:
    if Provider.objects.exists():
        return
    organization = Organization.objects.get(pk=context.current_organization_id())  # type: ignore[misc]  # seeded in a context
    organization.time_zone = ZONES.get(slug, "America/Chicago")
    organization.address = ADDRESSES.get(slug, "")
    organization.save()
    patients = list(Patient.objects.order_by("mrn"))
    if not patients:
        return
    clinician, coach = _providers()
    location = Location.objects.create(name="Main clinic", address=organization.address)
    therapy_room = Room.objects.create(location=location, name="Room 1")
    coaching_room = Room.objects.create(location=location, name="Room 2")
    therapy = AppointmentType.objects.create(
        name="Psychotherapy 50 min", duration_minutes=50, service_code="90834", fee_cents=15000
    )
    AppointmentType.objects.create(name="Intake evaluation", duration_minutes=60, service_code="90791", fee_cents=22000)
    AppointmentType.objects.create(
        name="Telehealth follow-up", duration_minutes=30, service_code="90832", fee_cents=9000, is_telehealth=True
    )
    coaching = AppointmentType.objects.create(name="Wellness coaching", duration_minutes=30, fee_cents=6000)
    _weeks(
        patients, [(clinician, therapy, therapy_room, CLINICIAN_HOURS), (coach, coaching, coaching_room, COACH_HOURS)]
    )
    zone = organization_zone()
    today = timezone.localdate(timezone=zone)
    vacation = today + dt.timedelta(days=(4 - today.weekday()) % 7 + 7)  # a Friday, the week after next
    TimeOff.objects.create(
        provider=coach,
        starts_at=local_datetime(vacation, dt.time(0), zone),
        ends_at=local_datetime(vacation + dt.timedelta(days=1), dt.time(0), zone),
        note="Training day",
    )
    first_thursday = today + dt.timedelta(days=(3 - today.weekday()) % 7 or 7)
    services.series_book(
        patient=patients[0],
        provider=clinician,
        appointment_type=therapy,
        first_starts_at=local_datetime(first_thursday, dt.time(16), zone),
        frequency="weekly",
        occurrences=4,
        room=therapy_room,
        reason="Weekly therapy",
    )


def _providers() -> tuple[Provider, Provider]:
    """Dr. Reyes (weekdays 8-17) and the coach (Monday to Thursday 10-16); both also work today, whatever day."""
    today = timezone.localdate(timezone=organization_zone()).weekday()
    memberships = {m.role: m for m in Membership.objects.for_current_organization().select_related("user")}
    clinician = Provider.objects.create(
        membership=memberships[Role.CLINICIAN],
        display_name="Dr. Dana Reyes",
        npi="1234567893",
        taxonomy_code="101YM0800X",
    )
    coach = Provider.objects.create(membership=memberships[Role.COACH], display_name="Sam Rivera (coach)")
    for weekday in sorted({*range(5), today}):
        WeeklyAvailability.objects.create(
            provider=clinician, weekday=weekday, starts_at=dt.time(8), ends_at=dt.time(17)
        )
    for weekday in sorted({*range(4), today}):
        WeeklyAvailability.objects.create(provider=coach, weekday=weekday, starts_at=dt.time(10), ends_at=dt.time(16))
    return clinician, coach


def _weeks(patients: list[Patient], plans: list[tuple[Provider, AppointmentType, Room, tuple[dt.time, ...]]]) -> None:
    """Two weeks back and two weeks ahead, weekdays only; today's first visits are done or under way."""
    zone = organization_zone()
    now = timezone.now()
    today = timezone.localdate(timezone=zone)
    who = cycle(patients)
    number = 0
    for offset in range(-14, 15):
        day = today + dt.timedelta(days=offset)
        if day.weekday() >= 5 and offset != 0:  # the demo clinic opens today, whatever the day
            continue
        for provider, kind, room, hours in plans:
            for at in hours:
                number += 1
                starts_at = local_datetime(day, at, zone)
                appointment = Appointment.objects.create(
                    patient=next(who),
                    provider=provider,
                    appointment_type=kind,
                    room=room,
                    starts_at=starts_at,
                    ends_at=starts_at + dt.timedelta(minutes=kind.duration_minutes),
                    status=_status(offset, number),
                )
                if provider.membership.role == Role.CLINICIAN:
                    AppointmentReason.objects.create(appointment=appointment, text=next(REASONS))
                if appointment.status in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW):
                    appointment.cancelled_at = min(starts_at, now)
                    appointment.cancellation_reason = (
                        "Patient called to reschedule" if appointment.status == "cancelled" else "No answer"
                    )
                    appointment.save()
                elif appointment.status == AppointmentStatus.COMPLETED:
                    appointment.checked_in_at = starts_at - dt.timedelta(minutes=5)
                    appointment.completed_at = appointment.ends_at
                    appointment.save()
                elif offset == 0 and number % 4 in (2, 3):  # today's arrivals, one of them in session
                    services.appointment_check_in(appointment=appointment)
                    if number % 4 == 2:
                        services.appointment_transition(appointment=appointment, status=AppointmentStatus.IN_SESSION)


def _status(offset: int, number: int) -> str:
    if offset == 0:  # today: done, in session, arrived or expected (see `_weeks`)
        return AppointmentStatus.COMPLETED if number % 4 == 1 else AppointmentStatus.BOOKED
    if number % 9 == 0:
        return AppointmentStatus.NO_SHOW if offset < 0 else AppointmentStatus.CANCELLED
    if number % 7 == 0:
        return AppointmentStatus.CANCELLED
    if offset < 0:
        return AppointmentStatus.COMPLETED
    if offset > 0 and number % 2 == 0:
        return AppointmentStatus.CONFIRMED
    return AppointmentStatus.BOOKED
