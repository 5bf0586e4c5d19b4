"""Reads for the clinical record (PHI rows are filtered by PostgreSQL for roles that may not read them)."""

from __future__ import annotations

from django.db.models import Case, F, Prefetch, Q, QuerySet, When, Window
from django.db.models.functions import RowNumber

from apps import codes
from apps.patients.models import Patient
from apps.scheduling.models import Appointment

from .models import Allergy, ClinicalEvent, ClinicalNote, Condition, Encounter, MedicalCodeAssignment, Medication, Vital
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


# --- a patient's chart ----------------------------------------------------------------------------------------

# Statuses of a condition that belong on the problem list (resolved and inactive ones are history).
CURRENT_PROBLEM_STATUSES = (
    Condition.ClinicalStatus.ACTIVE,
    Condition.ClinicalStatus.RECURRENCE,
    Condition.ClinicalStatus.REMISSION,
)


def patient_problem_list(*, patient: Patient) -> QuerySet[Condition]:
    """The patient's current conditions, most recent onset first, with their event's ICD-10-CM codes (2 queries)."""
    icd10 = MedicalCodeAssignment.objects.filter(code_system=codes.CodeSystem.ICD10CM).order_by("-is_primary", "code")
    return (
        Condition.objects.for_current_organization()
        .filter(patient=patient, clinical_status__in=CURRENT_PROBLEM_STATUSES)
        .select_related("event")
        .prefetch_related(Prefetch("event__codes", queryset=icd10, to_attr="icd10_codes"))
        .order_by(F("onset_date").desc(nulls_last=True), "condition_name")
    )


def patient_active_medication_list(*, patient: Patient) -> QuerySet[Medication]:
    """The medications the patient takes now, by name."""
    return (
        Medication.objects.for_current_organization()
        .filter(patient=patient, status=Medication.Status.ACTIVE)
        .order_by("medication_name", "-start_date")
    )


def patient_allergy_list(*, patient: Patient) -> QuerySet[Allergy]:
    """The patient's recorded allergies, most severe first."""
    severity_rank = Case(
        *(When(severity=value, then=rank) for rank, value in enumerate(reversed(Allergy.Severity.values))),
        default=len(Allergy.Severity.values),
    )
    return (
        Allergy.objects.for_current_organization()
        .filter(patient=patient)
        .annotate(severity_rank=severity_rank)
        .order_by("severity_rank", "allergen_name")
    )


def patient_vital_history(*, patient: Patient, per_type: int) -> list[Vital]:
    """The latest `per_type` readings of each vital the patient has, newest first within a type, in one query
    (a window over the (patient, vital type, time) index), however many readings there are."""
    newest = Window(
        RowNumber(), partition_by=[F("vital_type")], order_by=[F("measurement_date").desc(), F("id").desc()]
    )
    return list(
        Vital.objects.for_current_organization()
        .filter(patient=patient)
        .annotate(newest=newest)
        .filter(newest__lte=per_type)
        .order_by("vital_type", "-measurement_date", "-id")
    )


def patient_encounter_list(*, patient: Patient) -> QuerySet[Encounter]:
    """The patient's encounters, newest first."""
    return Encounter.objects.for_current_organization().filter(patient=patient).order_by("-started_at", "-id")
