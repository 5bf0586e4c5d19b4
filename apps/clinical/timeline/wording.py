"""Timeline events and assessments in plain words, as a clinician reads them, one wording for the chart, the
admin's lists and record titles: "Mood: anxious, confidence 7/10, anxiety 6/10: slept badly" (not
`mood: anxious; confidence: 7`), "PHQ-9 total 14 (moderate)". Reads only the fields the event's schema declares
(`schemas.SCHEMAS`); ids (a response's, a medication's) are never shown."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .scoring import BUILTIN_INSTRUMENTS
from .vocabulary import EventType

SUBTYPE_WORDS = {
    "daily_checkin": "daily check-in",
    "quick_checkin": "quick check-in",
    "enhanced_checkin": "check-in",
    "as_needed": "as needed",
    "side_effect": "side effect",
    "treatment_reaction": "treatment reaction",
    "therapy_session": "therapy session",
    "cycle_milestone": "cycle milestone",
    "blood_pressure": "blood pressure",
    "heart_rate": "heart rate",
}


def _listed(values: Any) -> str:
    return ", ".join(str(value) for value in values) if isinstance(values, list) else str(values)


def _with_note(text: str, data: dict[str, Any]) -> str:
    note = data.get("note")
    return f"{text}: {note}" if note else text


def _mood(subtype: str, data: dict[str, Any]) -> str:
    parts = [str(data.get("mood", "not given"))]
    if "confidence" in data:
        parts.append(f"confidence {data['confidence']}/10")
    if "anxiety_level" in data:
        parts.append(f"anxiety {data['anxiety_level']}/10")
    if data.get("side_effects"):
        parts.append(f"side effects {_listed(data['side_effects'])}")
    return _with_note("Mood: " + ", ".join(parts), data)


def _symptom(subtype: str, data: dict[str, Any]) -> str:
    label = "Side effect" if subtype == "side_effect" else "Symptoms"
    parts = [_listed(data.get("symptoms", []))]
    if "severity" in data:
        parts.append(f"severity {data['severity']}/10")
    if data.get("triggers"):
        parts.append(f"triggers {_listed(data['triggers'])}")
    return _with_note(f"{label}: " + ", ".join(parts), data)


def _medication(subtype: str, data: dict[str, Any]) -> str:
    name = data.get("medication_name") or "dose"
    text = f"{name} {data.get('status', '')}".strip()
    if data.get("dose"):
        text += f", {data['dose']}"
    if data.get("time"):
        text += f" at {data['time']}"
    if subtype != "scheduled":
        text += f" ({SUBTYPE_WORDS.get(subtype, subtype)})"
    if data.get("side_effects"):
        text += f"; side effects {_listed(data['side_effects'])}"
    return _with_note(f"Medication: {text}", data)


def instrument_name(code: str) -> str:
    """ "PHQ-9" for `phq9` (a built-in instrument's short name); a custom instrument's code as it is."""
    builtin = BUILTIN_INSTRUMENTS.get(code)
    return builtin.name.split(" (", 1)[0] if builtin is not None else code


def assessment_summary(instrument: str, total: Any, severity: str) -> str:
    return f"{instrument_name(instrument)} total {total} ({severity})"


def _assessment(subtype: str, data: dict[str, Any]) -> str:
    return assessment_summary(str(data.get("instrument", subtype)), data.get("total"), str(data.get("severity")))


def _vital(subtype: str, data: dict[str, Any]) -> str:
    label = SUBTYPE_WORDS.get(subtype, subtype).capitalize() if subtype != "other" else "Vital"
    if "systolic" in data:
        reading = f"{data['systolic']}/{data.get('diastolic')} mmHg"
    else:
        reading = f"{data.get('value')} {data.get('unit', '')}".strip()
    return _with_note(f"{label}: {reading}", data)


def _treatment(subtype: str, data: dict[str, Any]) -> str:
    label = SUBTYPE_WORDS.get(subtype, subtype).capitalize() if subtype != "other" else "Treatment"
    return _with_note(f"{label}: {data.get('name', '')}", data)


def _appointment(subtype: str, data: dict[str, Any]) -> str:
    text = f"Appointment {subtype}"
    if data.get("with"):
        text += f" with {data['with']}"
    if data.get("location"):
        text += f" at {data['location']}"
    return _with_note(text, data)


def _note(subtype: str, data: dict[str, Any]) -> str:
    return f"Note: {data.get('text', '')}"


WORDING: dict[str, Callable[[str, dict[str, Any]], str]] = {
    EventType.MOOD: _mood,
    EventType.SYMPTOM: _symptom,
    EventType.MEDICATION: _medication,
    EventType.ASSESSMENT: _assessment,
    EventType.VITAL: _vital,
    EventType.TREATMENT: _treatment,
    EventType.APPOINTMENT: _appointment,
    EventType.NOTE: _note,
}


def event_summary(event_type: str, event_subtype: str, data: Any) -> str:
    """A health event's data in one plain sentence."""
    data = data if isinstance(data, dict) else {}
    wording = WORDING.get(event_type)
    if wording is None:
        return ", ".join(f"{key.replace('_', ' ')}: {_listed(value)}" for key, value in data.items())
    return wording(event_subtype, data)


def health_event_words(event: Any) -> str:
    """The event in one plain sentence."""
    return event_summary(event.event_type, event.event_subtype, event.event_data)


def subtype_words(subtype: str) -> str:
    """A subtype as a reader says it ("daily check-in")."""
    return SUBTYPE_WORDS.get(subtype, subtype.replace("_", " "))
