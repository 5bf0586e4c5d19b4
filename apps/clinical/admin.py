"""Clinical screens: encounters, and hub events with every kind of detail row inline."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.http import urlencode

from apps.organizations.admin_base import TenantInline, TenantModelAdmin, guarded_view, may
from apps.patients.admin_mixins import PHIAccessLoggedAdmin, SearchesByPatient
from apps.patients.models import PHIAccessLog

from .models import SPOKES, ClinicalEvent, Encounter, MedicalCodeAssignment, Vital
from .notes.admin import encounter_notes_panel
from .permissions import ASSESSMENT, CLINICAL_EVENT, ENCOUNTER
from .timeline.administer import instruments
from .vitals_admin import ClinicalEventForm, VitalInlineForm, vitals_entry_view

# A vital is typed as a reading ("128/82", "98.6 F"): its stored value and unit follow from it.
spoke_inline_options: dict[type, dict[str, Any]] = {Vital: {"form": VitalInlineForm, "exclude": None}}


class _ClinicalInline(TenantInline):
    # The row's patient, organization and classification come from its event (see Spoke.save).
    exclude = ["patient", "data_classification"]
    resource = CLINICAL_EVENT


SPOKE_INLINES = [
    type(f"{model.__name__}Inline", (_ClinicalInline,), {"model": model, **spoke_inline_options.get(model, {})})
    for model in SPOKES.values()
]


class CodeInline(_ClinicalInline):
    model = MedicalCodeAssignment
    exclude = ["data_classification"]


@admin.register(Encounter)
class EncounterAdmin(SearchesByPatient, PHIAccessLoggedAdmin, TenantModelAdmin):
    record_type = PHIAccessLog.RecordType.ENCOUNTER
    list_display = ["started_at", "encounter_type", "patient", "provider_name", "place_of_service"]
    list_filter = ["encounter_type", "place_of_service"]
    list_select_related = ["patient"]
    search_fields = ["patient__mrn", "provider_name"]
    date_hierarchy = "started_at"
    autocomplete_fields = ["patient"]
    resource = ENCOUNTER

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # The encounter's notes, below its fields (admin/clinical/encounter/change_form.html).
        encounter = self.get_object(request, object_id)
        extra_context = {**(extra_context or {}), "notes_panel": encounter_notes_panel(request, encounter)}
        if encounter is not None and may(request, CLINICAL_EVENT, "manual_entry"):
            url = reverse("admin:clinical_vitals_entry", args=[encounter.patient_id])
            extra_context["vitals_url"] = f"{url}?{urlencode({'encounter': encounter.pk})}"
        if encounter is not None and may(request, ASSESSMENT, "write"):
            extra_context["assessment_links"] = [
                (reverse("admin:clinical_assessment_administer", args=[encounter.patient_id, code]), instrument.name)
                for code, instrument in instruments().items()
            ]
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(ClinicalEvent)
class ClinicalEventAdmin(SearchesByPatient, PHIAccessLoggedAdmin, TenantModelAdmin):
    record_type = PHIAccessLog.RecordType.CLINICAL_EVENT
    list_display = ["event_date", "event_name", "activity_type", "patient", "is_synthetic", "data_classification"]
    list_filter = ["activity_type", "data_classification", "is_synthetic"]
    list_select_related = ["patient"]
    search_fields = ["event_name", "patient__mrn"]
    date_hierarchy = "event_date"
    autocomplete_fields = ["patient", "encounter"]
    inlines = [*SPOKE_INLINES, CodeInline]
    resource = CLINICAL_EVENT
    form = ClinicalEventForm
    # Set by the services (manual entry, imports), never typed.
    readonly_fields = ["is_synthetic", "clinical_identity_key"]

    def get_urls(self) -> list[URLPattern]:
        vitals_page = guarded_view(self.admin_site, vitals_entry_view, CLINICAL_EVENT, "manual_entry")
        return [path("vitals/<uuid:patient_id>/", vitals_page, name="clinical_vitals_entry"), *super().get_urls()]


from .notes import admin as notes_admin  # noqa: E402, F401
from .timeline import admin as timeline_admin  # noqa: E402, F401
