"""Timeline rows and assessments in plain words, for lists and titles: "Mood: anxious, confidence 7/10",
"Symptoms: bloating, nausea, severity 4/10", "PHQ-9 total 14 (moderate)". Identifiers inside the data (a
medication's or a response's id) are left out."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .scoring import BUILTIN_INSTRUMENTS
from .vocabulary import EventType

Data = Mapping[str, Any]


def instrument_name(code: str) -> str:
    """ "PHQ-9" for `phq9` (a built-in instrument's short name); a custom instrument's code as it is."""
    builtin = BUILTIN_INSTRUMENTS.get(code)
    return builtin.name.split(" (", 1)[0] if builtin is not None else code


def assessment_summary(instrument: str, total: Any, severity: str) -> str:
    return f"{instrument_name(instrument)} total {total} ({severity})"


def _words(value: Any) -> str:
    return ", ".join(str(item) for item in value) if isinstance(value, list | tuple) else str(value)


def _extras(data: Data, *fields: str) -> list[str]:
    """`field value` for each of `fields` present ("side effects: nausea", "note: ...")."""
    return [f"{name.replace('_', ' ')}: {_words(data[name])}" for name in fields if data.get(name) not in (None, "")]


def _mood(subtype: str, data: Data) -> list[str]:
    parts = [f"Mood: {data.get('mood', '?')}", f"confidence {data.get('confidence', '?')}/10"]
    if data.get("anxiety_level") is not None:
        parts.append(f"anxiety {data['anxiety_level']}/10")
    return parts + _extras(data, "side_effects", "note")


def _medication(subtype: str, data: Data) -> list[str]:
    taken = f"{data.get('medication_name') or 'Medication'}: {data.get('status', '?')}"
    if data.get("time"):
        taken += f" at {data['time']}"
    return [taken, *_extras(data, "dose", "side_effects", "note")]


def _symptom(subtype: str, data: Data) -> list[str]:
    parts = [f"Symptoms: {_words(data.get('symptoms', []))}", f"severity {data.get('severity', '?')}/10"]
    return parts + _extras(data, "triggers", "note")


def _assessment(subtype: str, data: Data) -> list[str]:
    return [assessment_summary(str(data.get("instrument", subtype)), data.get("total", "?"), data.get("severity", "?"))]


def _vital(subtype: str, data: Data) -> list[str]:
    name = subtype.replace("_", " ").capitalize()
    if "systolic" in data or "diastolic" in data:
        reading = f"{name} {data.get('systolic', '?')}/{data.get('diastolic', '?')}"
    else:
        reading = f"{name} {data.get('value', '?')} {data.get('unit', '')}".rstrip()
    return [reading, *_extras(data, "note")]


def _treatment(subtype: str, data: Data) -> list[str]:
    return [f"Treatment: {data.get('name', subtype)}", *_extras(data, "note")]


def _appointment(subtype: str, data: Data) -> list[str]:
    visit = f"Appointment ({subtype.replace('_', ' ')})"
    if data.get("with"):
        visit += f" with {data['with']}"
    if data.get("location"):
        visit += f" at {data['location']}"
    return [visit, *_extras(data, "note")]


def _note(subtype: str, data: Data) -> list[str]:
    return [f"Note: {data.get('text', '')}"]


WORDING: dict[str, Callable[[str, Data], list[str]]] = {
    EventType.MOOD: _mood,
    EventType.MEDICATION: _medication,
    EventType.SYMPTOM: _symptom,
    EventType.ASSESSMENT: _assessment,
    EventType.VITAL: _vital,
    EventType.TREATMENT: _treatment,
    EventType.APPOINTMENT: _appointment,
    EventType.NOTE: _note,
}


def event_summary(event_type: str, event_subtype: str, data: Data) -> str:
    """A health event's data in plain words."""
    wording = WORDING.get(event_type)
    if wording is None:
        return ", ".join(f"{key.replace('_', ' ')}: {_words(value)}" for key, value in data.items())
    return ", ".join(wording(event_subtype, data))
