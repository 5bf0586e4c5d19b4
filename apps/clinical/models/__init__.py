"""Clinical models: the hub-and-spoke clinical record (seed 002) and the patient-reported timeline (seed 001)."""

from .events import ClinicalEvent

__all__ = ["ClinicalEvent"]
