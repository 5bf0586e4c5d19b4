"""Reads for the clinical record (PHI rows are filtered by PostgreSQL for roles that may not read them)."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import ClinicalEvent, Encounter
from .models.events import ClinicalEventQuerySet


def clinical_event_list() -> ClinicalEventQuerySet:
    """Clinical events of the active organization with patient, encounter, codes and every spoke prefetched."""
    return ClinicalEvent.objects.for_current_organization().with_details()


def encounter_list() -> QuerySet[Encounter]:
    """Encounters of the active organization the caller may read."""
    return Encounter.objects.for_current_organization().select_related("patient")
