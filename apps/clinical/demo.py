"""Demo encounters, clinical events, timeline and progress notes for `seed_demo` (idempotent; runs inside the
tenant context)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from apps.organizations.roles import DataClassification
from apps.patients.models import Patient

from . import services
from .models import ClinicalEvent, Encounter
from .notes import demo as notes_demo
from .timeline import demo as timeline_demo


def seed(*, slug: str) -> None:
    """Each demo patient without clinical events gets an intake visit and a follow-up, each with its progress
    note, and a wellness check-in."""
    now = timezone.now()
    patients = Patient.objects.filter(clinical_events__isnull=True).order_by("mrn")
    visits: list[tuple[Encounter, Encounter]] = []
    for index, patient in enumerate(patients, start=1):
        intake_at = now - timedelta(days=120 + 10 * index)
        visits.append((_intake(patient, intake_at), _follow_up(patient, intake_at + timedelta(days=42), index)))
        services.clinical_entry_record_manual(
            patient=patient,
            spoke_type="vitals",
            fields={
                "vital_type": "weight",
                "measurement_value": {"value": 64 + index * 3},
                "unit": "kg",
                "measurement_date": now - timedelta(days=3),
            },
            recorded_at=now - timedelta(days=3),
            data_classification=DataClassification.GENERAL_WELLNESS,
        )
    timeline_demo.seed(slug=slug)
    # After the timeline: a patient who already has timeline rows gets none from it.
    notes_demo.seed(visits=visits)


def _intake(patient: Patient, at: datetime) -> Encounter:
    encounter = services.encounter_create(
        patient=patient,
        encounter_type=Encounter.Type.OUTPATIENT,
        started_at=at,
        ended_at=at + timedelta(minutes=60),
        provider_name="Dr. Imani Castillo, MD",
        facility_name="Main clinic",
        reason="Psychiatric intake",
    )
    services.clinical_event_create(
        patient=patient,
        encounter=encounter,
        event={
            "activity_type": ClinicalEvent.ActivityType.OBSERVATION,
            "clinical_purposes": [ClinicalEvent.Purpose.DIAGNOSTIC],
            "event_name": "Initial psychiatric evaluation",
            "performed_by": "Dr. Imani Castillo, MD",
            "facility_name": "Main clinic",
            "event_date": at,
            "source_document": "intake-forms/initial-evaluation.pdf",
        },
        details={
            "vitals": [
                {
                    "vital_type": "blood_pressure",
                    "measurement_value": {"systolic": 124, "diastolic": 79},
                    "unit": "mmHg",
                    "measurement_date": at,
                },
                {"vital_type": "heart_rate", "measurement_value": {"value": 76}, "unit": "bpm", "measurement_date": at},
            ],
            "conditions": [
                {
                    "condition_name": "Major depressive disorder, single episode, moderate",
                    "clinical_status": "active",
                    "severity": "moderate",
                    "onset_date": (at - timedelta(days=90)).date(),
                }
            ],
            "allergies": [
                {
                    "allergen_name": "Penicillin",
                    "allergen_type": "medication",
                    "reaction": "Hives",
                    "severity": "moderate",
                }
            ],
            "observations": [{"observation_type": "PHQ-9 total score", "value_numeric": 14, "reference_range": "0-4"}],
        },
        codes=[
            {
                "code_system": "icd10cm",
                "code": "F32.1",
                "display": "Major depressive disorder, single episode, moderate",
                "is_primary": True,
            },
            {"code_system": "snomed", "code": "35489007", "display": "Depressive disorder"},
            {"code_system": "loinc", "code": "44261-6", "display": "PHQ-9 total score"},
            {
                "code_system": "cpt",
                "code": "90792",
                "display": "Psychiatric diagnostic evaluation with medical services",
            },
        ],
    )
    return encounter


def _follow_up(patient: Patient, at: datetime, index: int) -> Encounter:
    encounter = services.encounter_create(
        patient=patient,
        encounter_type=Encounter.Type.TELEHEALTH,
        place_of_service=Encounter.PlaceOfService.TELEHEALTH_HOME,
        started_at=at,
        ended_at=at + timedelta(minutes=30),
        provider_name="Dr. Imani Castillo, MD",
        reason="Medication management",
    )
    services.clinical_event_create(
        patient=patient,
        encounter=encounter,
        event={
            "activity_type": ClinicalEvent.ActivityType.INTERVENTION,
            "clinical_purposes": [ClinicalEvent.Purpose.THERAPEUTIC],
            "event_name": "Medication management visit",
            "performed_by": "Dr. Imani Castillo, MD",
            "event_date": at,
        },
        details={
            "medications": [
                {
                    "medication_name": "Sertraline",
                    "strength": "50 mg",
                    "dose": "1 tablet",
                    "route": "oral",
                    "frequency": "once daily",
                    "start_date": at.date(),
                    "prescriber": "Dr. Imani Castillo, MD",
                }
            ],
            "immunizations": [
                {
                    "vaccine_name": "Influenza, seasonal",
                    "administered_on": (at - timedelta(days=20)).date(),
                    "dose_number": 1,
                    "route": "intramuscular",
                    "site": "left deltoid",
                }
            ]
            if index % 2
            else [],
        },
        codes=[
            {"code_system": "cpt", "code": "99214", "display": "Office/outpatient visit, established patient"},
            {"code_system": "rxnorm", "code": "312940", "display": "Sertraline 50 MG Oral Tablet"},
        ],
    )
    return encounter
