"""The clinic's time zone: stored times are UTC; every page, form, document, reminder and day bucket shows and
reads them in the active organization's IANA zone."""

from __future__ import annotations

import uuid
import zoneinfo
from collections.abc import Callable
from datetime import date, datetime, time
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from . import context


@lru_cache(maxsize=64)
def zone_named(name: str) -> zoneinfo.ZoneInfo:
    """The zone called `name` (cached: ZoneInfo reads the tz database)."""
    return zoneinfo.ZoneInfo(name)


def validate_time_zone(value: str) -> None:
    """An IANA zone name the tz database knows (e.g. `America/Chicago`)."""
    if not isinstance(value, str) or value not in zoneinfo.available_timezones():
        raise ValidationError("Use an IANA time zone name, e.g. America/Chicago.", code="invalid")


def organization_zone(organization_id: uuid.UUID | None = None) -> zoneinfo.ZoneInfo:
    """The time zone of `organization_id` (default: the active context's organization); UTC without one."""
    from .models import Organization

    organization_id = organization_id or context.current_organization_id()
    if organization_id is None:
        return zone_named("UTC")
    name = Organization.objects.filter(pk=organization_id).values_list("time_zone", flat=True).first()
    return zone_named(name or "UTC")


def local_datetime(day: date, at: time, zone: zoneinfo.ZoneInfo) -> datetime:
    """The aware moment of wall-clock `at` on `day` in `zone` (a time skipped by a DST change moves forward)."""
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=zone)
    # Round-trip through UTC: a wall time that does not exist (spring forward) lands on its real instant.
    return aware.astimezone(zoneinfo.ZoneInfo("UTC")).astimezone(zone)


class OrganizationTimeZoneMiddleware:
    """Activates the request's organization's zone (after the tenant middleware has chosen the organization), so
    templates, forms and `timezone.localtime()` speak the clinic's local time."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        ctx = getattr(request, "tenant", None)
        if ctx is None:
            return self.get_response(request)
        with timezone.override(organization_zone(ctx.organization_id)):
            return self.get_response(request)
