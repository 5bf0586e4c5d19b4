from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef, Q, QuerySet

from .models import SPOKES, ClinicalEvent, Encounter


class EncounterFilter(django_filters.FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient_id")
    encounter_type = django_filters.ChoiceFilter(choices=Encounter.Type.choices)
    started_since = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")

    class Meta:
        model = Encounter
        fields = ["patient", "encounter_type", "started_since", "started_before"]


class ClinicalEventFilter(django_filters.FilterSet):
    patient = django_filters.UUIDFilter(field_name="patient_id")
    encounter = django_filters.UUIDFilter(field_name="encounter_id")
    activity_type = django_filters.ChoiceFilter(choices=ClinicalEvent.ActivityType.choices)
    purpose = django_filters.ChoiceFilter(
        field_name="clinical_purposes",
        lookup_expr="contains",
        choices=ClinicalEvent.Purpose.choices,
        method="filter_purpose",
    )
    detail_type = django_filters.ChoiceFilter(
        choices=[(name, name) for name in sorted(SPOKES)],
        method="filter_detail_type",
        help_text="events with such rows",
    )
    event_date_since = django_filters.IsoDateTimeFilter(field_name="event_date", lookup_expr="gte")
    event_date_before = django_filters.IsoDateTimeFilter(field_name="event_date", lookup_expr="lt")

    class Meta:
        model = ClinicalEvent
        fields = [
            "patient",
            "encounter",
            "activity_type",
            "purpose",
            "detail_type",
            "event_date_since",
            "event_date_before",
        ]

    def filter_purpose(self, queryset: QuerySet[ClinicalEvent], name: str, value: str) -> QuerySet[ClinicalEvent]:
        return queryset.filter(clinical_purposes__contains=[value])

    def filter_detail_type(self, queryset: QuerySet[ClinicalEvent], name: str, value: str) -> QuerySet[ClinicalEvent]:
        return queryset.filter(Exists(SPOKES[value].objects.filter(Q(event=OuterRef("pk")))))
