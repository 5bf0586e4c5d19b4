"""The chart's timeline sections: review flags (and their header alerts), recent events in plain words with
adherence, assessment history with each question's wording."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.utils import timezone

from apps.organizations.admin_base import may
from apps.patients import phi_reads
from apps.patients.models import PHIAccessLog
from apps.patients.panels import ChartAlert, ChartHeaderPart, PatientPanel

from ..models import AssessmentFlag, AssessmentResponse
from ..permissions import ASSESSMENT, ASSESSMENT_FLAG, HEALTH_EVENT, MEDICATION_ADHERENCE
from . import scoring, selectors
from .trend import score_trend_svg
from .wording import health_event_words, subtype_words

if TYPE_CHECKING:
    from django.http import HttpRequest

    from apps.patients.models import Patient

RECENT_EVENTS = 30
RECENT_ASSESSMENTS = 50
TREND_DAYS = 180


def timeline_panels(request: HttpRequest, patient: Patient) -> list[PatientPanel]:
    """Sections for this patient as the requesting role may see them (RLS filters PHI for coaches)."""
    if not may(request, HEALTH_EVENT, "read"):
        return []
    panels = []
    flags = list(selectors.assessment_flag_open_list(patient=patient)) if may(request, ASSESSMENT_FLAG, "read") else []
    if flags:
        panels.append(
            PatientPanel(
                "Needs review",
                "clinical/timeline/panel_flags.html",
                {"flags": flags},
                order=5,
                anchor="flags",
                phi=True,
                header=ChartHeaderPart(alerts=[flag_alert(flag) for flag in flags]),
            )
        )

    events = list(selectors.health_event_list(patient=patient)[:RECENT_EVENTS])
    phi_reads.mark_rows(record_type=PHIAccessLog.RecordType.HEALTH_EVENT, rows=events)
    adherence = selectors.medication_adherence(patient=patient) if may(request, MEDICATION_ADHERENCE, "read") else None
    if events or adherence:
        rows = [
            TimelineRow(
                event.occurred_at, event.event_type, subtype_words(event.event_subtype), health_event_words(event)
            )
            for event in events
        ]
        panels.append(
            PatientPanel(
                "Health timeline",
                "clinical/timeline/panel_timeline.html",
                {"events": rows, "adherence": adherence, "shown": RECENT_EVENTS},
                order=40,
                anchor="timeline",
            )
        )

    if not may(request, ASSESSMENT, "read"):
        return panels
    responses = list(
        selectors.assessment_response_list(patient=patient)
        .select_related("definition")
        .prefetch_related("flags")[:RECENT_ASSESSMENTS]
    )
    phi_reads.mark(record_type=PHIAccessLog.RecordType.ASSESSMENT, patient_ids=[r.patient_id for r in responses])
    if responses:
        since = timezone.now() - timedelta(days=TREND_DAYS)
        points = [(r.instrument, r.completed_at, r.total, _max_total(r)) for r in responses if r.completed_at >= since]
        trend = score_trend_svg(points, title="Assessment scores over time (percent of each instrument's maximum)")
        panels.append(
            PatientPanel(
                "Assessments",
                "clinical/timeline/panel_assessments.html",
                {"responses": [assessment_row(r) for r in responses], "trend": trend, "trend_days": TREND_DAYS},
                order=41,
                anchor="assessments",
                phi=True,
            )
        )
    return panels


def flag_alert(flag: AssessmentFlag) -> ChartAlert:
    """The header's alert for an open review flag (a PHQ-9 item 9 above 0), linking to the flags section."""
    raised = timezone.localtime(flag.raised_at)
    return ChartAlert(
        text=f"{flag.get_reason_display()} on {raised:%Y-%m-%d}: not yet reviewed.", anchor="flags", urgent=True
    )


@dataclass(frozen=True)
class TimelineRow:
    occurred_at: datetime
    event_type: str
    subtype: str
    words: str


@dataclass(frozen=True)
class AssessmentRow:
    response: AssessmentResponse
    name: str
    maximum: int
    items: list[tuple[int, str, int, str]]  # (number, wording, answer, answer's label)
    open_flag: bool
    reviewed_flag: bool


def assessment_row(response: AssessmentResponse) -> AssessmentRow:
    """A completed assessment with each question's wording beside the answer given."""
    instrument = scoring.BUILTIN_INSTRUMENTS.get(response.instrument)
    if instrument is not None:
        name, wording, labels = instrument.name.split(" (")[0], list(instrument.items), list(instrument.answer_labels)
        minimum = instrument.min_answer
    else:
        definition = response.definition
        name = definition.name if definition is not None else response.instrument
        wording = [str(item) for item in definition.items] if definition is not None else []
        labels, minimum = [], 0
    items = []
    for number, answer in enumerate(response.answers, start=1):
        text = wording[number - 1] if number <= len(wording) else f"Item {number}"
        position = answer - minimum
        label = labels[position] if 0 <= position < len(labels) else ""
        items.append((number, text, answer, label))
    flags = list(response.flags.all())
    return AssessmentRow(
        response=response,
        name=name,
        maximum=_max_total(response),
        items=items,
        open_flag=any(flag.reviewed_at is None for flag in flags),
        reviewed_flag=any(flag.reviewed_at is not None for flag in flags),
    )


def _max_total(response: object) -> int:
    instrument = scoring.BUILTIN_INSTRUMENTS.get(getattr(response, "instrument", ""))
    if instrument is not None:
        return instrument.max_total
    definition = getattr(response, "definition", None)
    return definition.max_answer * len(definition.items) if definition is not None else 0
