"""Clinical models: the hub-and-spoke clinical record (seed 002) and the patient-reported timeline (seed 001)."""

from .assessments import AssessmentDefinition, AssessmentFlag, AssessmentResponse
from .events import (
    SPOKES,
    Allergy,
    ClinicalEvent,
    Condition,
    Encounter,
    Immunization,
    Intervention,
    MedicalCodeAssignment,
    Medication,
    Observation,
    Spoke,
    Vital,
)
from .timeline import HealthEvent

__all__ = [
    "SPOKES",
    "Allergy",
    "AssessmentDefinition",
    "AssessmentFlag",
    "AssessmentResponse",
    "ClinicalEvent",
    "Condition",
    "Encounter",
    "HealthEvent",
    "Immunization",
    "Intervention",
    "MedicalCodeAssignment",
    "Medication",
    "Observation",
    "Spoke",
    "Vital",
]
