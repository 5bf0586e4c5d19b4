"""Demo clinical events for `seed_demo` (idempotent; runs inside the organization's tenant context)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apps.organizations.roles import DataClassification
from apps.patients.models import Patient

from .models import ClinicalEvent
from .timeline import demo as timeline_demo


def seed(*, slug: str) -> None:
    """Give each demo patient an evaluation (PHI) and a wellness check-in, unless they have events."""
    now = timezone.now()
    patients = Patient.objects.filter(clinical_events__isnull=True).order_by("mrn")
    for index, patient in enumerate(patients, start=1):
        when = now - timedelta(days=30 * index)
        ClinicalEvent.objects.create(
            patient=patient,
            activity_type=ClinicalEvent.ActivityType.OBSERVATION,
            clinical_purposes=["diagnostic"],
            event_name="Initial psychiatric evaluation",
            performed_by="Dr. Demo",
            event_date=when,
        )
        ClinicalEvent.objects.create(
            patient=patient,
            activity_type=ClinicalEvent.ActivityType.OBSERVATION,
            clinical_purposes=["self_monitoring"],
            event_name="Weekly wellness check-in",
            event_date=when + timedelta(days=7),
            is_synthetic=True,
            data_classification=DataClassification.GENERAL_WELLNESS,
        )
    timeline_demo.seed(slug=slug)
