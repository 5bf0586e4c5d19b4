"""seed_demo's schedule: zones, providers with weekly hours, two weeks either side with cancellations and
no-shows, today's arrivals, a series and time off; a second run adds nothing; each clinic sees its own."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.organizations.management.commands.seed_demo import DEMO_NAMESPACE
from apps.organizations.models import Organization
from apps.organizations.time_zones import zone_named
from apps.scheduling.models import Appointment, Provider, RecurringSeries, TimeOff, WeeklyAvailability
from tests.conftest import as_tenant

pytestmark = pytest.mark.usefixtures("committed")


def schedule(slug: str) -> dict[str, object]:
    organization_id = uuid.uuid5(DEMO_NAMESPACE, slug)
    with as_tenant(Organization(pk=organization_id)):
        zone_name = Organization.objects.get(pk=organization_id).time_zone
        today = timezone.localdate(timezone=zone_named(zone_name))
        starts = list(Appointment.objects.values_list("starts_at", "status", "organization_id"))
        return {
            "zone": zone_name,
            "providers": Provider.objects.count(),
            "hours": WeeklyAvailability.objects.count(),
            "statuses": Counter(status for _, status, _ in starts),
            "first_day": min(s.astimezone(zone_named(zone_name)).date() for s, _, _ in starts) - today,
            "last_day": max(s.astimezone(zone_named(zone_name)).date() for s, _, _ in starts) - today,
            "organizations": {org for _, _, org in starts},
            "series": RecurringSeries.objects.count(),
            "time_off": TimeOff.objects.count(),
            "organization_id": organization_id,
        }


def test_seed_demo_schedules_two_weeks_either_side_with_todays_arrivals_once():
    call_command("seed_demo", stdout=StringIO())
    harbor, summit = schedule("harbor"), schedule("summit")
    call_command("seed_demo", stdout=StringIO())

    assert schedule("harbor") == harbor  # a second run added nothing
    assert (harbor["zone"], summit["zone"]) == ("America/Los_Angeles", "America/Denver")
    for clinic in (harbor, summit):
        assert clinic["providers"] == 2
        assert clinic["hours"] >= 9
        statuses = clinic["statuses"]
        assert statuses["completed"] > 0
        assert statuses["cancelled"] > 0
        assert statuses["no_show"] > 0
        assert statuses["checked_in"] > 0  # today's arrivals
        assert statuses["in_session"] > 0
        assert statuses["booked"] > 0
        assert dt.timedelta(days=-14) <= clinic["first_day"] < dt.timedelta(days=-10)
        assert clinic["last_day"] >= dt.timedelta(days=10)
        assert (clinic["series"], clinic["time_off"]) == (1, 1)
        assert clinic["organizations"] == {clinic["organization_id"]}
