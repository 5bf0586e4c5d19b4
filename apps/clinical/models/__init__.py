"""Clinical models: the hub-and-spoke clinical record (seed 002) and the patient-reported timeline (seed 001)."""

from .assessments import AssessmentDefinition, AssessmentFlag, AssessmentResponse
from .events import ClinicalEvent
from .timeline import HealthEvent

__all__ = ["AssessmentDefinition", "AssessmentFlag", "AssessmentResponse", "ClinicalEvent", "HealthEvent"]
