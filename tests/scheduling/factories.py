"""A small clinic's schedule: rows take their organization from the active tenant context."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from apps.organizations.models import Membership, Organization
from apps.organizations.roles import Role
from apps.organizations.time_zones import local_datetime, zone_named
from apps.patients.models import Patient
from apps.scheduling.models import AppointmentType, Location, Provider, Room, WeeklyAvailability
from tests.conftest import add_member, as_tenant
from tests.factories import PatientFactory

VALID_NPI = "1234567893"


@dataclass
class Clinic:
    org: Organization
    zone_name: str
    provider: Provider
    provider_user: AbstractBaseUser
    coach: Provider
    coach_user: AbstractBaseUser
    room: Room
    therapy: AppointmentType
    coaching: AppointmentType
    patient: Patient

    @property
    def zone(self) -> Any:
        return zone_named(self.zone_name)

    def at(self, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
        """The aware moment of local wall time `hour:minute` on `day` in the clinic's zone."""
        return local_datetime(day, dt.time(hour, minute), self.zone)


def next_weekday(weekday: int, *, zone_name: str = "UTC", weeks_ahead: int = 1) -> dt.date:
    """A date on `weekday` (Monday 0) at least a day after today in the zone, `weeks_ahead - 1` weeks later."""
    today = timezone.localdate(timezone=zone_named(zone_name))
    days = (weekday - today.weekday()) % 7 or 7
    return today + dt.timedelta(days=days + 7 * (weeks_ahead - 1))


def provider_for(org: Organization, role: str, name: str) -> tuple[Provider, AbstractBaseUser]:
    user = add_member(org, role)
    with as_tenant(org):
        membership = Membership.objects.get(user=user)
        provider = Provider.objects.create(
            membership=membership, display_name=name, npi=VALID_NPI if role == Role.CLINICIAN else "", taxonomy_code=""
        )
        for weekday in range(5):
            WeeklyAvailability.objects.create(
                provider=provider, weekday=weekday, starts_at=dt.time(9), ends_at=dt.time(17)
            )
    return provider, user


def make_clinic(org: Organization, *, zone_name: str = "America/Chicago") -> Clinic:
    with as_tenant(org):
        org.time_zone = zone_name
        org.save()
    provider, provider_user = provider_for(org, Role.CLINICIAN, "Dr. Dana Reyes")
    coach, coach_user = provider_for(org, Role.COACH, "Sam Coach")
    with as_tenant(org):
        location = Location.objects.create(name="Main office")
        room = Room.objects.create(location=location, name="Room 1")
        therapy = AppointmentType.objects.create(
            name="Psychotherapy 50 min", duration_minutes=50, service_code="90834", fee_cents=15000
        )
        coaching = AppointmentType.objects.create(name="Coaching", duration_minutes=30, fee_cents=0)
        patient = PatientFactory(email=f"patient@{org.slug}.example")
    return Clinic(org, zone_name, provider, provider_user, coach, coach_user, room, therapy, coaching, patient)
