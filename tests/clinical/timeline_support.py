"""Shared helpers for the timeline and assessment tests (two organizations, members, keys, events)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.clinical.models import HealthEvent
from apps.clinical.timeline import services
from apps.organizations.roles import Role, Scope
from tests.conftest import add_member, as_tenant, issue_key
from tests.factories import PatientFactory

MEDICATION_A = "11111111-1111-4111-8111-111111111111"
MEDICATION_B = "22222222-2222-4222-8222-222222222222"


def mood(patient: Any, when: datetime, value: str = "calm", confidence: int = 7) -> HealthEvent:
    return services.health_event_record(
        patient=patient,
        event_type="mood",
        event_subtype="daily_checkin",
        event_data={"mood": value, "confidence": confidence},
        occurred_at=when,
    )


def dose(
    patient: Any, when: datetime, status: str, medication: str = MEDICATION_A, subtype: str = "scheduled"
) -> HealthEvent:
    return services.health_event_record(
        patient=patient,
        event_type="medication",
        event_subtype=subtype,
        event_data={"medication_id": medication, "status": status},
        occurred_at=when,
    )


def symptom(patient: Any, when: datetime, severity: int = 4) -> HealthEvent:
    return services.health_event_record(
        patient=patient,
        event_type="symptom",
        event_subtype="general",
        event_data={"symptoms": ["fatigue"], "severity": severity},
        occurred_at=when,
    )


def ago(**kwargs: float) -> datetime:
    return timezone.now() - timedelta(**kwargs)


@pytest.fixture(name="clinics")
def clinics_fixture(org_a, org_b):
    """Org A and org B: a patient each, a mood, a symptom, a medication dose and a PHQ-9 each; staff and keys."""
    data = {}
    for org in (org_a, org_b):
        with as_tenant(org):
            patient = PatientFactory(mrn="SAME-1")
            events = {
                "mood": mood(patient, ago(hours=3)),
                "symptom": symptom(patient, ago(hours=2)),
                "medication": dose(patient, ago(hours=1), "taken"),
            }
            response = services.assessment_complete(patient=patient, instrument="phq9", answers=[1] * 9)
        data[org.slug] = {
            "org": org,
            "patient": patient,
            "events": events,
            "response": response,
            "owner": add_member(org, Role.OWNER),
            "clinician": add_member(org, Role.CLINICIAN),
            "coach": add_member(org, Role.COACH),
            "billing": add_member(org, Role.BILLING),
            "key": issue_key(org, scopes=[Scope.TIMELINE_READ, Scope.TIMELINE_WRITE]),
            "phi_key": issue_key(org, scopes=[Scope.TIMELINE_READ, Scope.TIMELINE_WRITE], phi_access=True),
            "patients_key": issue_key(org, scopes=[Scope.PATIENTS_READ]),
        }
    return data


def new_uuid() -> str:
    return str(uuid.uuid4())
