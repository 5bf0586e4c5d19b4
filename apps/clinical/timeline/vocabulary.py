"""The timeline's vocabulary (seed 001): event types, their subtypes, sources, default classifications."""

from __future__ import annotations

from django.db import models

from apps.organizations.roles import DataClassification


class EventType(models.TextChoices):
    MOOD = "mood"
    MEDICATION = "medication"
    SYMPTOM = "symptom"
    ASSESSMENT = "assessment"
    VITAL = "vital"
    TREATMENT = "treatment"
    APPOINTMENT = "appointment"
    NOTE = "note"


# Seed 001 lists the subtypes of mood, medication, symptom and assessment (plus phq9, which the issue adds);
# the other four types had none in the seed and get a small closed list so the subtype is always meaningful.
EVENT_SUBTYPES: dict[str, tuple[str, ...]] = {
    EventType.MOOD: ("daily_checkin", "quick_checkin", "enhanced_checkin"),
    EventType.MEDICATION: ("scheduled", "as_needed", "injection"),
    EventType.SYMPTOM: ("side_effect", "treatment_reaction", "general"),
    EventType.ASSESSMENT: ("phq4", "gad7", "phq9", "custom"),
    EventType.VITAL: ("blood_pressure", "heart_rate", "weight", "temperature", "other"),
    EventType.TREATMENT: ("procedure", "therapy_session", "cycle_milestone", "other"),
    EventType.APPOINTMENT: ("scheduled", "attended", "missed", "cancelled"),
    EventType.NOTE: ("general", "clinical"),
}


class Source(models.TextChoices):
    PATIENT_APP = "patient_app", "Patient app"
    STAFF = "staff", "Staff"
    PARTNER = "partner", "Partner"


# Self-reported mood and symptom check-ins are general wellness data: coaches work with them (seed 000's
# COACH rule). Everything else names a treatment, a prescription, a screening result or a clinical encounter
# and is PHI by default. A caller may tighten a wellness default to PHI, never loosen a PHI default.
WELLNESS_BY_DEFAULT = frozenset({EventType.MOOD.value, EventType.SYMPTOM.value})


def default_classification(event_type: str) -> str:
    """The data classification an event of this type gets unless the caller asks for PHI."""
    if event_type in WELLNESS_BY_DEFAULT:
        return DataClassification.GENERAL_WELLNESS.value
    return DataClassification.CLINICAL_PHI.value
