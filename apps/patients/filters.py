from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from .models import Consent, Patient
from .selectors import patient_search_condition


class PatientFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=100,
        help_text="a name in any order, a phone number, the end of an MRN, or a birth date (MM/DD/YYYY or YYYY-MM-DD)",
    )
    status = django_filters.ChoiceFilter(choices=Patient.Status.choices)
    sex_at_birth = django_filters.ChoiceFilter(choices=Patient.SexAtBirth.choices)
    date_of_birth = django_filters.DateFilter()

    class Meta:
        model = Patient
        fields = ["search", "status", "sex_at_birth", "date_of_birth"]

    def filter_search(self, queryset: QuerySet[Patient], name: str, value: str) -> QuerySet[Patient]:
        return queryset.filter(patient_search_condition(value))


class ConsentFilter(django_filters.FilterSet):
    consent_type = django_filters.ChoiceFilter(choices=Consent.Type.choices)
    valid = django_filters.BooleanFilter(field_name="is_valid", help_text="valid now (true) or not (false)")

    class Meta:
        model = Consent
        fields = ["consent_type", "valid"]
