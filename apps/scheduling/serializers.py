"""The schedule's API shapes. Times go out in the clinic's zone (with their offset) and are read with theirs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from .models import Appointment, AppointmentReason, AppointmentStatus, RecurringSeries


class AppointmentTypeOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    duration_minutes = serializers.IntegerField()
    service_code = serializers.CharField()
    fee_cents = serializers.IntegerField()
    is_telehealth = serializers.BooleanField()


class SchedulingProviderOutput(serializers.Serializer):
    id = serializers.UUIDField()
    display_name = serializers.CharField()
    npi = serializers.CharField()
    taxonomy_code = serializers.CharField()


class FreeSlotsQuery(serializers.Serializer):
    appointment_type_id = serializers.UUIDField()
    provider_id = serializers.UUIDField(required=False)
    first_day = serializers.DateField(help_text="First local day (the clinic's zone).")
    last_day = serializers.DateField(help_text="Last local day, at most 31 days after the first.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        today = timezone.localdate()
        if not today - dt.timedelta(days=366) <= attrs["first_day"] <= today + dt.timedelta(days=2 * 366):
            raise serializers.ValidationError({"first_day": "Ask for days within a year back and two years ahead."})
        span = (attrs["last_day"] - attrs["first_day"]).days
        if span < 0:
            raise serializers.ValidationError({"last_day": "The last day comes on or after the first."})
        if span > 31:
            raise serializers.ValidationError({"last_day": "Ask for at most 31 days at once."})
        return attrs


class FreeSlotOutput(serializers.Serializer):
    provider_id = serializers.UUIDField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


class AppointmentInput(serializers.Serializer):
    patient_id = serializers.UUIDField()
    provider_id = serializers.UUIDField()
    appointment_type_id = serializers.UUIDField()
    room_id = serializers.UUIDField(required=False, allow_null=True)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField(required=False, allow_null=True)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)
    override_availability = serializers.BooleanField(
        required=False, default=False, help_text="Book outside the provider's weekly hours on purpose."
    )


class AppointmentSeriesInput(AppointmentInput):
    frequency = serializers.ChoiceField(choices=RecurringSeries.Frequency.choices)
    occurrences = serializers.IntegerField(min_value=2, max_value=52)


class TransitionInput(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[s for s in AppointmentStatus.choices if s[0] not in (AppointmentStatus.BOOKED, "checked_in")],
        help_text="confirmed, in_session, completed; or cancelled / no_show with a reason. Check-in has its own "
        "operation.",
    )
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, help_text="Why cancelled.")
    diagnosis_codes = serializers.ListField(
        child=serializers.CharField(max_length=8), required=False, max_length=12, help_text="On completing."
    )


class RescheduleInput(serializers.Serializer):
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField(required=False, allow_null=True)
    room_id = serializers.UUIDField(required=False, allow_null=True)
    override_availability = serializers.BooleanField(required=False, default=False)


class AppointmentOutput(serializers.Serializer):
    id = serializers.UUIDField()
    patient_id = serializers.UUIDField()
    provider_id = serializers.UUIDField()
    room_id = serializers.UUIDField(allow_null=True)
    appointment_type_id = serializers.UUIDField()
    series_id = serializers.UUIDField(allow_null=True)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=AppointmentStatus.choices)
    outside_availability = serializers.BooleanField()
    checked_in_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    cancellation_reason = serializers.CharField()
    reason = serializers.SerializerMethodField(
        help_text="Clinical: null for callers who may not read clinical data (and when none was given)."
    )

    def get_reason(self, appointment: Appointment) -> str | None:
        try:
            return appointment.reason.text
        except AppointmentReason.DoesNotExist:
            return None


class CheckInOutput(serializers.Serializer):
    appointment = AppointmentOutput()
    encounter_id = serializers.UUIDField(source="encounter.id")
    treatment_consent = serializers.BooleanField(source="status.treatment_consent")
    data_sharing_consent = serializers.BooleanField(source="status.data_sharing_consent")
    insurance_on_file = serializers.BooleanField(source="status.insurance_on_file")


class AppointmentSeriesOutput(serializers.Serializer):
    id = serializers.UUIDField()
    frequency = serializers.CharField()
    occurrences = serializers.IntegerField()
    appointments = AppointmentOutput(many=True, source="appointment_list")
