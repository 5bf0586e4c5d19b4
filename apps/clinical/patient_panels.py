"""The chart's clinical sections: problems, active medications, allergies, latest vitals with their trend, notes,
encounters and recent clinical events; then the timeline's (`timeline/panels.py`). The allergies go in
the header too. Each section is a fixed number of queries, whatever the patient's record holds."""

from __future__ import annotations

from django.http import HttpRequest

from apps.organizations.admin_base import may
from apps.patients import phi_reads
from apps.patients.models import Patient, PHIAccessLog
from apps.patients.panels import ChartHeaderPart, PatientPanel

from . import chart, selectors
from .notes.selectors import clinical_note_list
from .notes.serializers import person_name
from .permissions import CLINICAL_EVENT, CLINICAL_NOTE, ENCOUNTER
from .timeline.panels import timeline_panels

SUMMARY_LIMIT = 20
LIST_LIMIT = 50
VITAL_READINGS = 6
NOTES_SHOWN = 20


def _mark(rows: list, record_type: str = PHIAccessLog.RecordType.CLINICAL_EVENT) -> None:
    phi_reads.mark_rows(record_type=record_type, rows=rows)


def record_panels(request: HttpRequest, patient: Patient) -> list[PatientPanel]:
    """Problems, active medications and vitals: CLINICAL_PHI sections (a coach gets none of them)."""
    if not (phi_reads.phi_visible() and may(request, CLINICAL_EVENT, "read")):
        return []
    problems = list(selectors.patient_problem_list(patient=patient)[:LIST_LIMIT])
    medications = list(selectors.patient_active_medication_list(patient=patient)[:LIST_LIMIT])
    vitals = selectors.patient_vital_history(patient=patient, per_type=VITAL_READINGS)
    for rows in (problems, medications, vitals):
        _mark(rows)
    return [
        PatientPanel(
            "Problems",
            "clinical/chart/problems.html",
            {"problems": chart.problems(problems), "limit": LIST_LIMIT},
            order=10,
            anchor="problems",
            phi=True,
        ),
        PatientPanel(
            "Active medications",
            "clinical/chart/medications.html",
            {"medications": medications, "limit": LIST_LIMIT},
            order=11,
            anchor="medications",
            phi=True,
        ),
        PatientPanel(
            "Latest vitals",
            "clinical/chart/vitals.html",
            {"trends": chart.vital_trends(vitals), "readings": VITAL_READINGS},
            order=13,
            anchor="vitals",
            phi=True,
        ),
    ]


def allergy_panel(request: HttpRequest, patient: Patient) -> list[PatientPanel]:
    """The allergies, most severe first; the header names them too ("None recorded" when there are none)."""
    if not (phi_reads.phi_visible() and may(request, CLINICAL_EVENT, "read")):
        return []
    allergies = list(selectors.patient_allergy_list(patient=patient)[:LIST_LIMIT])
    _mark(allergies)
    named = "; ".join(
        f"{a.allergen_name} ({a.get_severity_display()})" if a.severity else a.allergen_name for a in allergies
    )
    return [
        PatientPanel(
            "Allergies",
            "clinical/chart/allergies.html",
            {"allergies": allergies},
            order=12,
            anchor="allergies",
            phi=True,
            header=ChartHeaderPart(facts=[("Allergies", named or "None recorded")]),
        )
    ]


def note_panel(request: HttpRequest, patient: Patient) -> list[PatientPanel]:
    """The patient's notes: template, status, author, signed time and a link to each."""
    if not may(request, CLINICAL_NOTE, "read"):
        return []
    notes = list(clinical_note_list().filter(patient=patient)[:NOTES_SHOWN])
    phi_reads.mark(record_type=PHIAccessLog.RecordType.CLINICAL_NOTE, patient_ids=[note.patient_id for note in notes])
    rows = [(note, person_name(note.author), len(note.addenda.all())) for note in notes]
    return [
        PatientPanel(
            "Notes",
            "clinical/chart/notes.html",
            {"notes": rows, "shown": NOTES_SHOWN},
            order=20,
            anchor="notes",
            phi=True,
        )
    ]


def summary_panel(request: HttpRequest, patient: Patient) -> list[PatientPanel]:
    """Encounters and recent clinical events (PostgreSQL leaves out what the role may not read)."""
    if not (may(request, CLINICAL_EVENT, "read") and may(request, ENCOUNTER, "read")):
        return []
    events = list(
        selectors.clinical_event_list().filter(patient=patient).order_by("-event_date", "-id")[:SUMMARY_LIMIT]
    )
    encounters = list(selectors.patient_encounter_list(patient=patient)[:SUMMARY_LIMIT])
    _mark(events)
    _mark(encounters, PHIAccessLog.RecordType.ENCOUNTER)
    return [
        PatientPanel(
            title="Clinical summary",
            template="clinical/panels/clinical_summary.html",
            context={"events": events, "encounters": encounters, "limit": SUMMARY_LIMIT},
            order=21,
            anchor="clinical-summary",
        )
    ]


def panels(request: HttpRequest, patient: Patient) -> list[PatientPanel]:
    """The clinical sections, then the timeline, adherence and assessment sections."""
    return [
        *record_panels(request, patient),
        *allergy_panel(request, patient),
        *note_panel(request, patient),
        *summary_panel(request, patient),
        *timeline_panels(request, patient),
    ]
