from django.db.models import QuerySet

from .models import ClinicalEvent


def clinical_event_list() -> QuerySet[ClinicalEvent]:
    """Clinical events of the active organization the caller may read (PHI filtered by the database)."""
    return ClinicalEvent.objects.for_current_organization().select_related("patient")
