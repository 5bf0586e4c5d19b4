"""The patient page's clinical summary: encounters and events with their detail rows, newest first."""

from __future__ import annotations

from django.http import HttpRequest

from apps.organizations.admin_base import may
from apps.patients.models import Patient
from apps.patients.panels import PatientPanel

from .permissions import CLINICAL_EVENT, ENCOUNTER
from .selectors import clinical_event_list, encounter_list
from .timeline.panels import timeline_panels

SUMMARY_LIMIT = 50


def panels(request: HttpRequest, patient: Patient) -> list[PatientPanel]:
    """The clinical summary, then the timeline, adherence and assessment panels.

    PostgreSQL leaves out what the viewer's role may not read (a coach sees no CLINICAL_PHI).
    """
    if not (may(request, CLINICAL_EVENT, "read") and may(request, ENCOUNTER, "read")):
        return timeline_panels(request, patient)
    events = list(clinical_event_list().filter(patient=patient)[:SUMMARY_LIMIT])
    encounters = list(encounter_list().filter(patient=patient)[:SUMMARY_LIMIT])
    return [
        PatientPanel(
            title="Clinical summary",
            template="clinical/panels/clinical_summary.html",
            context={"events": events, "encounters": encounters, "limit": SUMMARY_LIMIT},
            order=10,
        ),
        *timeline_panels(request, patient),
    ]
