"""Providers, locations and rooms, weekly availability and time off, appointment types, appointments and their
recurring series.

Times are stored in UTC; availability is wall-clock time in the organization's zone (`time_zones`). PostgreSQL
refuses overlapping active appointments of one provider and of one room (exclusion constraints over
`tstzrange(starts_at, ends_at)` with btree_gist), whatever path wrote them. An appointment's reason is clinical:
it lives in its own CLINICAL_PHI row (`AppointmentReason`), which the database never shows a coach.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeBoundary, RangeOperators
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Func, Q

from apps.billing.codes import validate_npi, validate_taxonomy
from apps.organizations.audit import TenantHistoricalRecords
from apps.organizations.models import ClassifiedTenantModel, Membership, TenantModel, TenantQuerySet
from apps.organizations.roles import Role
from apps.patients.models import PatientScopedManager


class TsTzRange(Func):
    """`tstzrange(start, end, '[)')`: the half-open period an appointment occupies."""

    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


def _same_org(to: Any, related_name: str, **options: Any) -> Any:
    """A link whose organization is proven by a composite key (organization_id, x_id) added in the migration."""
    return models.ForeignKey(to, related_name=related_name, db_constraint=False, **options)


# Members who see patients and so may be providers.
PROVIDER_ROLES = (Role.CLINICIAN, Role.COACH)


class Provider(TenantModel):
    """A member who sees patients (a clinician or a coach), with the identifiers claims need."""

    membership = _same_org(Membership, "+", on_delete=models.PROTECT)
    display_name = models.CharField(max_length=200)
    npi = models.CharField("NPI", max_length=10, blank=True, validators=[validate_npi])
    taxonomy_code = models.CharField(max_length=10, blank=True, validators=[validate_taxonomy])
    is_active = models.BooleanField(default=True)

    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["display_name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "membership"], name="provider_one_per_membership"),
            models.UniqueConstraint(fields=["organization", "id"], name="provider_org_id_key"),
        ]

    def __str__(self) -> str:
        return self.display_name

    def clean(self) -> None:
        if self.membership_id and self.membership.role not in PROVIDER_ROLES:
            raise ValidationError({"membership": "A provider is a clinician or a coach."})


class Location(TenantModel):
    name = models.CharField(max_length=200)
    address = models.TextField(blank=True)

    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="location_unique_name_per_org"),
            models.UniqueConstraint(fields=["organization", "id"], name="location_org_id_key"),
        ]

    def __str__(self) -> str:
        return self.name


class Room(TenantModel):
    location = _same_org(Location, "rooms", on_delete=models.PROTECT)
    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)

    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "location", "name"], name="room_unique_name_per_location"),
            models.UniqueConstraint(fields=["organization", "id"], name="room_org_id_key"),
        ]

    def __str__(self) -> str:
        return self.name


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class WeeklyAvailability(TenantModel):
    """A provider's recurring working hours on one weekday, in the clinic's local time."""

    provider = _same_org(Provider, "availability", on_delete=models.CASCADE)
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts_at = models.TimeField()
    ends_at = models.TimeField()
    location = _same_org(Location, "+", on_delete=models.PROTECT, null=True, blank=True)

    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["provider", "weekday", "starts_at"]
        verbose_name_plural = "weekly availability"
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="availability_ends_after_start",
                violation_error_message="Availability must end after it starts.",
            ),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="availability_weekday_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.starts_at:%H:%M}-{self.ends_at:%H:%M}"


class TimeOff(TenantModel):
    """An exception to the weekly hours: the provider is away from `starts_at` to `ends_at`."""

    provider = _same_org(Provider, "time_off", on_delete=models.CASCADE)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True, help_text="Not clinical: e.g. vacation, training.")

    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["starts_at"]
        verbose_name_plural = "time off"
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="time_off_ends_after_start",
                violation_error_message="Time off must end after it starts.",
            ),
        ]

    def __str__(self) -> str:
        return f"Time off {self.starts_at:%Y-%m-%d}"


class AppointmentType(TenantModel):
    """What is booked: its length, the service billed for it and its fee."""

    name = models.CharField(max_length=100)
    duration_minutes = models.PositiveSmallIntegerField(validators=[MinValueValidator(5), MaxValueValidator(480)])
    service_code = models.CharField(
        max_length=5, blank=True, help_text="CPT or HCPCS code of the charge a completed visit records."
    )
    fee_cents = models.PositiveIntegerField(default=0)
    is_telehealth = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="appointment_type_unique_name_per_org"),
            models.UniqueConstraint(fields=["organization", "id"], name="appointment_type_org_id_key"),
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=5, duration_minutes__lte=480),
                name="appointment_type_duration_range",
            ),
            models.CheckConstraint(
                condition=Q(service_code="") | Q(service_code__regex=r"^(?:\d{4}[0-9FT]|[A-V]\d{4})$"),
                name="appointment_type_service_code_format",
                violation_error_message="Enter a 5-character CPT or HCPCS code.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.duration_minutes} min)"


class RecurringSeries(TenantModel):
    """Appointments booked together: weekly or every two weeks, a number of times, at the same local time."""

    class Frequency(models.TextChoices):
        WEEKLY = "weekly", "Weekly"
        BIWEEKLY = "biweekly", "Every two weeks"

    frequency = models.CharField(max_length=10, choices=Frequency.choices)
    occurrences = models.PositiveSmallIntegerField(validators=[MinValueValidator(2), MaxValueValidator(52)])

    history = TenantHistoricalRecords()

    class Meta:
        verbose_name_plural = "recurring series"
        constraints = [
            models.UniqueConstraint(fields=["organization", "id"], name="recurring_series_org_id_key"),
            models.CheckConstraint(
                condition=Q(occurrences__gte=2, occurrences__lte=52), name="recurring_series_occurrences_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_frequency_display()} x {self.occurrences}"


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    CONFIRMED = "confirmed", "Confirmed"
    CHECKED_IN = "checked_in", "Checked in"
    IN_SESSION = "in_session", "In session"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No-show"


# An appointment in one of these no longer holds its provider's or room's time.
INACTIVE_STATUSES = (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW)
ACTIVE_CONDITION = ~Q(status__in=INACTIVE_STATUSES)


class AppointmentQuerySet(TenantQuerySet):
    def active(self) -> AppointmentQuerySet:
        """Appointments that hold their time (not cancelled, not a no-show)."""
        return self.filter(ACTIVE_CONDITION)

    def overlapping(self, starts_at: object, ends_at: object) -> AppointmentQuerySet:
        """Appointments whose period meets [starts_at, ends_at)."""
        return self.filter(starts_at__lt=ends_at, ends_at__gt=starts_at)


AppointmentManager = PatientScopedManager.from_queryset(AppointmentQuerySet)


class Appointment(TenantModel):
    Status = AppointmentStatus

    patient = _same_org("patients.Patient", "appointments", on_delete=models.PROTECT)
    provider = _same_org(Provider, "appointments", on_delete=models.PROTECT)
    room = _same_org(Room, "appointments", on_delete=models.PROTECT, null=True, blank=True)
    appointment_type = _same_org(AppointmentType, "appointments", on_delete=models.PROTECT)
    series = _same_org(RecurringSeries, "appointments", on_delete=models.PROTECT, null=True, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED)
    # Booked outside the provider's weekly hours on purpose (the front desk said so explicitly).
    outside_availability = models.BooleanField(default=False, editable=False)
    checked_in_at = models.DateTimeField(null=True, blank=True, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Cancellation or no-show: who recorded it, when and why (not clinical: "patient called", "no answer").
    cancelled_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    cancellation_reason = models.CharField(max_length=200, blank=True, editable=False)
    reminder_sent_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects: ClassVar[AppointmentManager] = AppointmentManager()  # type: ignore[assignment]  # consent-gated (PatientScopedManager)
    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "id"], name="appointment_org_id_key"),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="appointment_ends_after_start",
                violation_error_message="An appointment must end after it starts.",
            ),
            models.CheckConstraint(condition=Q(status__in=AppointmentStatus.values), name="appointment_status_valid"),
            ExclusionConstraint(
                name="appointment_provider_no_overlap",
                expressions=[
                    ("organization", RangeOperators.EQUAL),
                    ("provider", RangeOperators.EQUAL),
                    (TsTzRange("starts_at", "ends_at", RangeBoundary()), RangeOperators.OVERLAPS),
                ],
                condition=ACTIVE_CONDITION,
                violation_error_message="The provider already has an appointment at this time.",
            ),
            ExclusionConstraint(
                name="appointment_room_no_overlap",
                expressions=[
                    ("organization", RangeOperators.EQUAL),
                    ("room", RangeOperators.EQUAL),
                    (TsTzRange("starts_at", "ends_at", RangeBoundary()), RangeOperators.OVERLAPS),
                ],
                condition=ACTIVE_CONDITION,
                violation_error_message="The room is already booked at this time.",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "starts_at"]),
            models.Index(fields=["organization", "patient", "starts_at"]),
        ]

    def __str__(self) -> str:
        # Deliberately not the patient: object reprs end up in messages and logs.
        return f"Appointment {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def is_active(self) -> bool:
        return self.status not in INACTIVE_STATUSES


class AppointmentReason(ClassifiedTenantModel):
    """Why the patient comes: clinical, so a row of its own that the database hides from coaches."""

    appointment = models.OneToOneField(
        Appointment, on_delete=models.CASCADE, related_name="reason", db_constraint=False
    )
    text = models.CharField(max_length=500)

    history = TenantHistoricalRecords()

    def __str__(self) -> str:
        return "Appointment reason"
