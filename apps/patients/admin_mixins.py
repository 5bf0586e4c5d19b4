"""The PHI access log of admin pages, shared by the apps whose records show a patient's data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from apps.organizations.admin_base import AutocompleteSelectOfValidIds

from . import phi_reads
from .models import Patient
from .selectors import patient_list, patient_search_condition


def patient_picker(model: type[Model], admin_site: admin.AdminSite) -> forms.ModelChoiceField:
    """The patient field of a custom admin form: the admin's patient search, patients named and found as
    everywhere else, never a list of every patient on the page (`model` is the one whose `patient` it fills)."""
    widget = AutocompleteSelectOfValidIds(model._meta.get_field("patient"), admin_site)
    return forms.ModelChoiceField(queryset=patient_list(), widget=widget)


class PHIAccessLoggedAdmin:
    """Every admin page that shows a patient's records is a read of them, logged in the PHI access log: the list
    (the rows on the page), a record's page, its change history and each historical version.

    `phi_rows_only`: log only records classified CLINICAL_PHI (patient-reported and device data, whose
    wellness rows are not PHI); otherwise every record of the model (demographics and the clinical record)."""

    record_type: str
    phi_rows_only: bool = False
    logs_list_rows: bool = True  # False where the list page shows nothing of the records' content

    def patient_id_of(self, obj: Any) -> Any:
        return obj.patient_id

    def log_phi_read(self, request: HttpRequest, records: Sequence[Any]) -> None:
        if self.phi_rows_only:
            phi_reads.mark_rows(record_type=self.record_type, rows=records)
        else:
            patient_ids = [self.patient_id_of(obj) for obj in records]
            phi_reads.mark(record_type=self.record_type, patient_ids=patient_ids)

    def _log_object(self, request: HttpRequest, object_id: str) -> None:
        obj = self.get_object(request, object_id)  # type: ignore[attr-defined]  # None when hidden or absent
        if obj is not None:
            self.log_phi_read(request, [obj])

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)  # type: ignore[misc]
        changelist = (response.context_data or {}).get("cl") if isinstance(response, TemplateResponse) else None
        if changelist is not None and self.logs_list_rows:
            self.log_phi_read(request, list(changelist.result_list))
        return response

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self._log_object(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc]

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self._log_object(request, object_id)
        return super().history_view(request, object_id, extra_context)  # type: ignore[misc]

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self._log_object(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)  # type: ignore[misc]


class SearchesByPatient:
    """For admin lists of patients' records: the search box also finds the records of the patients the patient
    search finds (a name in any order, a phone number, the end of an MRN, a birth date), besides what the list's
    own `search_fields` find."""

    search_help_text = "The patient's name, phone number, the end of the MRN or the date of birth."

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        own, may_have_duplicates = super().get_search_results(request, queryset, search_term)  # type: ignore[misc]
        if not search_term.strip():
            return own, may_have_duplicates
        patients = Patient.objects.filter(patient_search_condition(search_term)).values("pk")
        return own | queryset.filter(patient_id__in=patients), may_have_duplicates
