"""Demo timeline for `seed_demo`: six weeks of check-ins, medication doses, symptoms and assessments.

Idempotent (patients that already have health events are skipped) and deterministic per patient.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from apps.organizations.roles import DataClassification
from apps.patients.models import Patient

from ..models import HealthEvent
from . import services
from .schemas import validate_event_data
from .vocabulary import EventType, Source

DEMO_NAMESPACE = uuid.UUID("0b8f0c3e-6d7a-4f0e-9a57-3c1de2f1a0b4")
WEEKS = 6
MOODS_BY_STEP = ("overwhelmed", "anxious", "stressed", "tired", "neutral", "calm", "content", "hopeful", "happy")
MEDICATIONS = (("sertraline-50mg", "Sertraline 50 mg", 8), ("folic-acid", "Folic acid 400 mcg", 20))


def _event(patient: Patient, event_type: str, subtype: str, data: dict, when: datetime) -> HealthEvent:
    return HealthEvent(
        organization_id=patient.organization_id,
        patient=patient,
        event_type=event_type,
        event_subtype=subtype,
        event_data=validate_event_data(event_type, subtype, data),
        occurred_at=when,
        recorded_at=when,
        source=Source.PATIENT_APP,
        data_classification=(
            DataClassification.GENERAL_WELLNESS
            if event_type in (EventType.MOOD, EventType.SYMPTOM)
            else DataClassification.CLINICAL_PHI
        ),
    )


def _patient_events(patient: Patient, rng: random.Random, today: datetime) -> list[HealthEvent]:
    events = []
    wellbeing = rng.randint(2, 5)
    for day in range(WEEKS * 7, 0, -1):
        date = today - timedelta(days=day)
        wellbeing = max(0, min(len(MOODS_BY_STEP) - 1, wellbeing + rng.choice((-1, 0, 0, 1, 1))))
        events.append(
            _event(
                patient,
                EventType.MOOD,
                "daily_checkin",
                {
                    "mood": MOODS_BY_STEP[wellbeing],
                    "confidence": min(10, 2 + wellbeing),
                    "anxiety_level": 8 - wellbeing,
                },
                date.replace(hour=20, minute=rng.randint(0, 59)),
            )
        )
        for name, label, hour in MEDICATIONS:
            status = rng.choices(("taken", "late", "skipped"), weights=(85, 8, 7))[0]
            events.append(
                _event(
                    patient,
                    EventType.MEDICATION,
                    "scheduled",
                    {
                        "medication_id": str(uuid.uuid5(DEMO_NAMESPACE, name)),
                        "medication_name": label,
                        "status": status,
                        "time": f"{hour:02d}:{rng.randint(0, 59):02d}",
                    },
                    date.replace(hour=hour, minute=0),
                )
            )
        if rng.random() < 0.2:
            events.append(
                _event(
                    patient,
                    EventType.SYMPTOM,
                    "side_effect",
                    {
                        "symptoms": rng.sample(["nausea", "headache", "fatigue", "bloating"], 2),
                        "severity": rng.randint(2, 7),
                    },
                    date.replace(hour=13),
                )
            )
    return events


def _answers(rng: random.Random, items: int, level: int) -> list[int]:
    return [max(0, min(3, level + rng.choice((-1, 0, 0, 1)))) for _ in range(items)]


def seed(*, slug: str) -> None:
    """Give each demo patient without health events six weeks of timeline and assessments."""
    today = timezone.now().replace(second=0, microsecond=0)
    patients = Patient.objects.filter(health_events__isnull=True).order_by("mrn")
    for index, patient in enumerate(patients):
        rng = random.Random(f"{slug}-{patient.mrn}")  # noqa: S311 - demo data, not security
        bulk_create_with_history(_patient_events(patient, rng, today), HealthEvent, batch_size=500)
        level = 1 + index % 2
        for week in range(WEEKS, 0, -1):
            when = today - timedelta(days=7 * week - 1, hours=3)
            services.assessment_complete(
                patient=patient, instrument="phq4", answers=_answers(rng, 4, level), completed_at=when
            )
            if week % 2 == 0:
                services.assessment_complete(
                    patient=patient, instrument="gad7", answers=_answers(rng, 7, level), completed_at=when
                )
                phq9 = _answers(rng, 9, level)
                # One patient reports thoughts of self-harm once: the flag shows on the page and review list.
                phq9[8] = 1 if (index == 0 and week == 2) else 0
                services.assessment_complete(patient=patient, instrument="phq9", answers=phq9, completed_at=when)
            level = max(0, level - (week % 3 == 0))
