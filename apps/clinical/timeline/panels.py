"""The patient page's timeline sections: review flags, recent events with adherence, assessment history."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.utils import timezone

from apps.organizations.admin_base import may
from apps.patients.panels import PatientPanel

from ..permissions import ASSESSMENT, ASSESSMENT_FLAG, HEALTH_EVENT, MEDICATION_ADHERENCE
from . import scoring, selectors
from .trend import score_trend_svg

if TYPE_CHECKING:
    from django.http import HttpRequest

    from apps.patients.models import Patient

RECENT_EVENTS = 30
TREND_DAYS = 180


def timeline_panels(request: HttpRequest, patient: Patient) -> list[PatientPanel]:
    """Panels for this patient as the requesting role may see them (RLS filters PHI for coaches)."""
    if not may(request, HEALTH_EVENT, "read"):
        return []
    panels = []
    flags = list(selectors.assessment_flag_open_list(patient=patient)) if may(request, ASSESSMENT_FLAG, "read") else []
    if flags:
        panels.append(PatientPanel("Needs review", "clinical/timeline/panel_flags.html", {"flags": flags}, order=5))

    events = list(selectors.health_event_list(patient=patient)[:RECENT_EVENTS])
    adherence = selectors.medication_adherence(patient=patient) if may(request, MEDICATION_ADHERENCE, "read") else None
    if events or adherence:
        panels.append(
            PatientPanel(
                "Health timeline",
                "clinical/timeline/panel_timeline.html",
                {"events": events, "adherence": adherence, "shown": RECENT_EVENTS},
                order=40,
            )
        )

    if not may(request, ASSESSMENT, "read"):
        return panels
    responses = list(selectors.assessment_response_list(patient=patient).prefetch_related("flags")[:200])
    if responses:
        since = timezone.now() - timedelta(days=TREND_DAYS)
        points = [(r.instrument, r.completed_at, r.total, _max_total(r)) for r in responses if r.completed_at >= since]
        trend = score_trend_svg(points, title="Assessment scores over time (percent of each instrument's maximum)")
        panels.append(
            PatientPanel(
                "Assessments",
                "clinical/timeline/panel_assessments.html",
                {"responses": responses, "trend": trend, "trend_days": TREND_DAYS},
                order=41,
            )
        )
    return panels


def _max_total(response: object) -> int:
    instrument = scoring.BUILTIN_INSTRUMENTS.get(getattr(response, "instrument", ""))
    if instrument is not None:
        return instrument.max_total
    definition = getattr(response, "definition", None)
    return definition.max_answer * len(definition.items) if definition is not None else 0
