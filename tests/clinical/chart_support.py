"""A patient's chart filled with `size` of everything it shows: problems coded in ICD-10-CM, medications,
allergies, vitals, encounters, signed notes with addenda, mood and symptom check-ins, PHQ-9s (one with item 9
above 0), biomarker readings (a wellness and a PHI metric), appointments before and after now, a consent."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from apps.biomarkers import services as biomarker_services
from apps.clinical import services as clinical_services
from apps.clinical.notes import services as note_services
from apps.clinical.timeline import services as timeline_services
from apps.organizations.roles import DataClassification, Role
from apps.patients import services as patient_services
from apps.scheduling.models import Appointment, AppointmentReason
from tests.biomarkers.factories import depression_reading, reading
from tests.conftest import as_tenant
from tests.factories import PatientFactory
from tests.scheduling.factories import Clinic

_appointment_hours = itertools.count(1)
PROBLEMS = [("Generalized anxiety disorder", "F41.1"), ("Major depressive disorder, single episode, moderate", "F32.1")]


@dataclass
class ChartData:
    patient: Any
    wellness_event_name: str
    phi_event_name: str


def ago(**kwargs: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(**kwargs)


def fill_chart(clinic: Clinic, *, size: int, family_name: str = "Okafor", **patient_fields: Any) -> ChartData:
    """A new patient of `clinic` with `size` rows of every kind the chart shows."""
    clinician = clinic.provider_user
    slot = next(_appointment_hours)  # each patient's visits at their own hour: the provider is never double-booked
    with as_tenant(clinic.org):
        patient = PatientFactory(family_name=family_name, gender_identity="Non-binary", **patient_fields)
        patient_services.consent_record(
            patient=patient, consent_type="treatment", granted=True, granted_at=ago(days=400)
        )
        encounters = []
        for index in range(size):
            name, code = PROBLEMS[index % len(PROBLEMS)]
            clinical_services.clinical_event_create(
                patient=patient,
                event={
                    "activity_type": "observation",
                    "clinical_purposes": ["diagnostic"],
                    "event_name": f"Diagnostic assessment {index}",
                    "event_date": ago(days=30 + index),
                },
                details={
                    "conditions": [{"condition_name": name, "onset_date": (ago(days=60 + index)).date()}],
                    "medications": [
                        {"medication_name": f"Sertraline {index}", "strength": "50 mg", "frequency": "daily"}
                    ],
                    "allergies": [
                        {"allergen_name": f"Penicillin {index}", "allergen_type": "medication", "severity": "severe"}
                    ],
                },
                codes=[{"code_system": "icd10cm", "code": code, "is_primary": True}],
            )
            clinical_services.vitals_record(
                patient=patient,
                measured_at=ago(days=index + 1),
                readings={
                    "blood_pressure": (f"{120 + index}/{80 + index % 5}", None),
                    "heart_rate": (str(70 + index), None),
                },
            )
            encounter = clinical_services.encounter_create(
                patient=patient, encounter_type="outpatient", started_at=ago(days=index + 1), reason="Follow-up"
            )
            encounters.append(encounter)
            timeline_services.health_event_record(
                patient=patient,
                event_type="mood",
                event_subtype="daily_checkin",
                event_data={"mood": "anxious", "confidence": 7, "note": "Busy week"},
                occurred_at=ago(hours=index + 1),
            )
            timeline_services.health_event_record(
                patient=patient,
                event_type="symptom",
                event_subtype="general",
                event_data={"symptoms": ["bloating", "nausea"], "severity": 3},
                occurred_at=ago(hours=index + 2),
            )
            item_nine = 1 if index == 0 else 0
            timeline_services.assessment_complete(
                patient=patient,
                instrument="phq9",
                answers=[2, 1, 1, 1, 1, 1, 1, 1, item_nine],
                completed_at=ago(days=index),
            )
            starts = timezone.now().replace(second=0, microsecond=0) + dt.timedelta(days=index + 1, hours=slot)
            for start in (starts, starts - dt.timedelta(days=2 * index + 30)):
                appointment = Appointment.objects.create(
                    patient=patient,
                    provider=clinic.provider,
                    appointment_type=clinic.therapy,
                    starts_at=start,
                    ends_at=start + dt.timedelta(minutes=50),
                )
                AppointmentReason.objects.create(appointment=appointment, text="Panic attacks, review")
        wellness = clinical_services.clinical_event_create(
            patient=patient,
            event={
                "activity_type": "observation",
                "clinical_purposes": ["self_monitoring"],
                "event_name": "Yoga session",
                "event_date": ago(days=2),
                "data_classification": DataClassification.GENERAL_WELLNESS,
            },
        )
    # Notes are written and signed by their author (PostgreSQL checks who signs).
    with as_tenant(clinic.org, Role.CLINICIAN, user_id=clinician.pk):
        for encounter in encounters:
            note = note_services.clinical_note_create(
                author=clinician,
                patient=patient,
                encounter=encounter,
                template="soap",
                sections={
                    "subjective": "Sleeping better.",
                    "objective": "",
                    "assessment": "Improving.",
                    "plan": "Continue.",
                },
                diagnosis_codes=["F41.1"],
            )
            note = note_services.clinical_note_sign(note=note, signer=clinician)
            note_services.note_addendum_create(note=note, author=clinician, text="Late entry: called pharmacy.")
    readings = [
        reading(patient.pk, captured_at=ago(days=index + 1).isoformat(), value_numeric=5000.0 + index)
        for index in range(size)
    ]
    readings += [depression_reading(patient.pk, captured_at=ago(days=index + 1).isoformat()) for index in range(size)]
    with as_tenant(clinic.org):
        biomarker_services.biomarker_readings_ingest(readings=readings)
    return ChartData(patient=patient, wellness_event_name=wellness.event_name, phi_event_name="Diagnostic assessment 0")
