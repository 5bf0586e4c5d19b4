"""The clinical app's sections on the patient page."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .timeline.panels import timeline_panels

if TYPE_CHECKING:
    from django.http import HttpRequest

    from apps.patients.models import Patient
    from apps.patients.panels import PatientPanel


def panels(request: HttpRequest, patient: Patient) -> list[PatientPanel]:
    """The timeline, adherence and assessment panels."""
    return timeline_panels(request, patient)
