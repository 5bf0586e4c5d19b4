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
from .notes import TEMPLATE_SECTIONS, ClinicalNote, NoteAddendum, NoteTemplate
from .timeline import HealthEvent

__all__ = [
    "SPOKES",
    "TEMPLATE_SECTIONS",
    "Allergy",
    "AssessmentDefinition",
    "AssessmentFlag",
    "AssessmentResponse",
    "ClinicalEvent",
    "ClinicalNote",
    "Condition",
    "Encounter",
    "HealthEvent",
    "Immunization",
    "Intervention",
    "MedicalCodeAssignment",
    "Medication",
    "NoteAddendum",
    "NoteTemplate",
    "Observation",
    "Spoke",
    "Vital",
]
