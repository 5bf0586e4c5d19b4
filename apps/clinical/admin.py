"""Clinical screens: encounters, and hub events with every kind of detail row inline."""

from __future__ import annotations

from django.contrib import admin

from apps.organizations.admin_base import TenantInline, TenantModelAdmin
from apps.patients.admin_mixins import PHIAccessLoggedAdmin, SearchesByPatient
from apps.patients.models import PHIAccessLog

from .models import SPOKES, ClinicalEvent, Encounter, MedicalCodeAssignment
from .permissions import CLINICAL_EVENT, ENCOUNTER


class _ClinicalInline(TenantInline):
    # The row's patient, organization and classification come from its event (see Spoke.save).
    exclude = ["patient", "data_classification"]
    resource = CLINICAL_EVENT


SPOKE_INLINES = [type(f"{model.__name__}Inline", (_ClinicalInline,), {"model": model}) for model in SPOKES.values()]


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


from .timeline import admin as timeline_admin  # noqa: E402, F401
