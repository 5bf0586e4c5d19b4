from __future__ import annotations

import django_filters

from .models import Appointment, AppointmentStatus


class AppointmentFilter(django_filters.FilterSet):
    provider = django_filters.UUIDFilter(field_name="provider_id")
    patient = django_filters.UUIDFilter(field_name="patient_id")
    status = django_filters.ChoiceFilter(choices=AppointmentStatus.choices)
    starts_since = django_filters.IsoDateTimeFilter(field_name="starts_at", lookup_expr="gte")
    starts_before = django_filters.IsoDateTimeFilter(field_name="starts_at", lookup_expr="lt")

    class Meta:
        model = Appointment
        fields = ["provider", "patient", "status", "starts_since", "starts_before"]
