"""Reads for the clinical record (PHI rows are filtered by PostgreSQL for roles that may not read them)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from apps.scheduling.models import Appointment

from .models import ClinicalEvent, ClinicalNote, Encounter
from .models.events import ClinicalEventQuerySet


def clinical_event_list() -> ClinicalEventQuerySet:
    """Clinical events of the active organization with patient, encounter, codes and every spoke prefetched."""
    return ClinicalEvent.objects.for_current_organization().with_details()


def encounter_list() -> QuerySet[Encounter]:
    """Encounters of the active organization the caller may read."""
    return Encounter.objects.for_current_organization().select_related("patient")


def clinician_patients_condition(user_id: int) -> Q:
    """A condition on `patient_id`: the patients of the member `user_id`, those they have a visit booked with
    (past or future) or have written a note about."""
    booked = Appointment.objects.filter(provider__membership__user_id=user_id).values("patient_id")
    written = ClinicalNote.objects.filter(author_id=user_id).values("patient_id")
    return Q(patient_id__in=booked) | Q(patient_id__in=written)
