"""Clinical models: the hub-and-spoke clinical record (seed 002) and the patient-reported timeline (seed 001)."""

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

__all__ = [
    "SPOKES",
    "Allergy",
    "ClinicalEvent",
    "Condition",
    "Encounter",
    "Immunization",
    "Intervention",
    "MedicalCodeAssignment",
    "Medication",
    "Observation",
    "Spoke",
    "Vital",
]
