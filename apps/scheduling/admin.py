"""The schedule's set-up pages (providers, locations, rooms, hours, time off, appointment types) and a read-only
list of appointments; booking, moving, cancelling and check-in are the calendar's (`calendar`)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import ForeignKey
from django.http import HttpRequest
from django.urls import URLPattern

from apps.organizations.admin_base import TenantModelAdmin
from apps.organizations.context import current_organization_id
from apps.organizations.models import TenantModel

from . import selectors
from .calendar import calendar_urls
from .models import Appointment, AppointmentType, Location, Provider, RecurringSeries, Room, TimeOff, WeeklyAvailability
from .permissions import APPOINTMENT, APPOINTMENT_TYPE, AVAILABILITY, LOCATION, PROVIDER, SERIES


class SameOrganizationChoices:
    """Pickers offer the active organization's rows only (a member of two clinics may read their own
    memberships in both)."""

    def formfield_for_foreignkey(self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "membership":
            kwargs["queryset"] = selectors.schedulable_memberships()
        elif isinstance(related := db_field.related_model, type) and issubclass(related, TenantModel):
            kwargs["queryset"] = related._default_manager.filter(organization_id=current_organization_id())  # type: ignore[misc]  # None matches nothing
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]


@admin.register(Provider)
class ProviderAdmin(SameOrganizationChoices, TenantModelAdmin):
    resource = PROVIDER
    list_display = ["display_name", "npi", "taxonomy_code", "is_active"]
    fields = ["membership", "display_name", "npi", "taxonomy_code", "is_active"]


@admin.register(Location)
class LocationAdmin(TenantModelAdmin):
    resource = LOCATION
    list_display = ["name"]


@admin.register(Room)
class RoomAdmin(SameOrganizationChoices, TenantModelAdmin):
    resource = LOCATION
    list_display = ["name", "location", "is_active"]
    list_select_related = ["location"]


@admin.register(WeeklyAvailability)
class WeeklyAvailabilityAdmin(SameOrganizationChoices, TenantModelAdmin):
    resource = AVAILABILITY
    list_display = ["provider", "weekday", "starts_at", "ends_at", "location"]
    list_filter = ["provider", "weekday"]
    list_select_related = ["provider", "location"]


@admin.register(TimeOff)
class TimeOffAdmin(SameOrganizationChoices, TenantModelAdmin):
    resource = AVAILABILITY
    list_display = ["provider", "starts_at", "ends_at", "note"]
    list_select_related = ["provider"]


@admin.register(AppointmentType)
class AppointmentTypeAdmin(TenantModelAdmin):
    resource = APPOINTMENT_TYPE
    list_display = ["name", "duration_minutes", "service_code", "fee_cents", "is_telehealth", "is_active"]


@admin.register(RecurringSeries)
class RecurringSeriesAdmin(TenantModelAdmin):
    resource = SERIES
    list_display = ["frequency", "occurrences", "created_at"]


@admin.register(Appointment)
class AppointmentAdmin(TenantModelAdmin):
    """A list to look things up; the reason is not shown here (it is the clinical record's)."""

    resource = APPOINTMENT
    list_display = ["starts_at", "provider", "appointment_type", "room", "status"]
    list_filter = ["status", "provider"]
    list_select_related = ["provider", "appointment_type", "room"]
    date_hierarchy = "starts_at"
    exclude = ["patient"]
    readonly_fields = ["provider", "room", "appointment_type", "series", "starts_at", "ends_at", "status"]

    def get_urls(self) -> list[URLPattern]:
        return [*calendar_urls(self.admin_site), *super().get_urls()]
