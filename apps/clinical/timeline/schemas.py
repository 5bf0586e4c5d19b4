"""Declared `event_data` schemas per event type, and their validation.

Each type lists its fields; unknown fields are refused (a typo must not be stored silently). Errors are
raised under the key `event_data.<field>`, so the API names the exact field.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from .vocabulary import EventType

MOODS = (
    "happy",
    "calm",
    "hopeful",
    "content",
    "neutral",
    "tired",
    "anxious",
    "sad",
    "stressed",
    "irritable",
    "overwhelmed",
)
MEDICATION_STATUSES = ("taken", "skipped", "late")
CLOCK_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True)
class FieldSpec:
    kind: str  # "text", "int", "number", "choice", "uuid", "clock", "text_list"
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    max_length: int = 500
    max_items: int = 20


def _text(value: Any, spec: FieldSpec) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "Must be a non-empty string."
    if len(value) > spec.max_length:
        return f"Must be at most {spec.max_length} characters."
    return None


def _number(value: Any, spec: FieldSpec) -> str | None:
    whole = spec.kind == "int"
    if isinstance(value, bool) or not isinstance(value, int if whole else int | float):
        return "Must be a whole number." if whole else "Must be a number."
    if spec.minimum is not None and spec.maximum is not None and not spec.minimum <= value <= spec.maximum:
        return f"Must be between {spec.minimum:g} and {spec.maximum:g}."
    return None


def _choice(value: Any, spec: FieldSpec) -> str | None:
    if value not in spec.choices:
        return f"Must be one of: {', '.join(spec.choices)}."
    return None


def _uuid(value: Any, spec: FieldSpec) -> str | None:
    if isinstance(value, str):
        try:
            uuid.UUID(value)
        except ValueError:
            pass
        else:
            return None
    return "Must be a UUID."


def _clock(value: Any, spec: FieldSpec) -> str | None:
    if not isinstance(value, str) or not CLOCK_TIME.match(value):
        return "Must be a time of day as HH:MM."
    return None


def _text_list(value: Any, spec: FieldSpec) -> str | None:
    if not isinstance(value, list) or len(value) > spec.max_items:
        return f"Must be a list of at most {spec.max_items} strings."
    if not all(isinstance(item, str) and 0 < len(item.strip()) <= 100 for item in value):
        return "Each entry must be a non-empty string of at most 100 characters."
    if spec.required and not value:
        return "Must not be empty."
    return None


CHECKS: dict[str, Callable[[Any, FieldSpec], str | None]] = {
    "text": _text,
    "int": _number,
    "number": _number,
    "choice": _choice,
    "uuid": _uuid,
    "clock": _clock,
    "text_list": _text_list,
}

NOTE = FieldSpec("text", max_length=2000)

SCHEMAS: dict[str, dict[str, FieldSpec]] = {
    EventType.MOOD: {
        "mood": FieldSpec("choice", required=True, choices=MOODS),
        "confidence": FieldSpec("int", required=True, minimum=1, maximum=10),
        "anxiety_level": FieldSpec("int", minimum=0, maximum=10),
        "side_effects": FieldSpec("text_list"),
        "note": NOTE,
    },
    EventType.MEDICATION: {
        "medication_id": FieldSpec("uuid", required=True),
        "medication_name": FieldSpec("text", max_length=200),
        "status": FieldSpec("choice", required=True, choices=MEDICATION_STATUSES),
        "time": FieldSpec("clock"),
        "dose": FieldSpec("text", max_length=100),
        "side_effects": FieldSpec("text_list"),
        "note": NOTE,
    },
    EventType.SYMPTOM: {
        "symptoms": FieldSpec("text_list", required=True),
        "severity": FieldSpec("int", required=True, minimum=0, maximum=10),
        "triggers": FieldSpec("text_list"),
        "note": NOTE,
    },
    # Written only by the assessment service, from a scored response.
    EventType.ASSESSMENT: {
        "response_id": FieldSpec("uuid", required=True),
        "instrument": FieldSpec("text", required=True, max_length=50),
        "total": FieldSpec("int", required=True, minimum=0, maximum=10_000),
        "severity": FieldSpec("text", required=True, max_length=50),
    },
    EventType.VITAL: {
        "value": FieldSpec("number", minimum=-1000, maximum=100_000),
        "unit": FieldSpec("text", max_length=20),
        "systolic": FieldSpec("int", minimum=40, maximum=300),
        "diastolic": FieldSpec("int", minimum=20, maximum=200),
        "note": NOTE,
    },
    EventType.TREATMENT: {
        "name": FieldSpec("text", required=True, max_length=200),
        "note": NOTE,
    },
    EventType.APPOINTMENT: {
        "with": FieldSpec("text", max_length=200),
        "location": FieldSpec("text", max_length=200),
        "note": NOTE,
    },
    EventType.NOTE: {
        "text": FieldSpec("text", required=True, max_length=5000),
    },
}


def _cross_field_errors(event_type: str, event_subtype: str, data: dict[str, Any]) -> dict[str, str]:
    """Rules that span fields: a blood pressure has both numbers, other vitals a value with its unit."""
    if event_type != EventType.VITAL:
        return {}
    if event_subtype == "blood_pressure":
        return {name: "Required for a blood pressure." for name in ("systolic", "diastolic") if name not in data}
    return {name: "Required for this vital." for name in ("value", "unit") if name not in data}


def validate_event_data(event_type: str, event_subtype: str, data: Any) -> dict[str, Any]:
    """Check `data` against the type's schema; raise a ValidationError naming each bad field."""
    if not isinstance(data, dict):
        raise ValidationError({"event_data": "Must be an object."})
    schema = SCHEMAS[event_type]
    errors: dict[str, str] = {}
    for name in sorted(set(data) - set(schema)):
        errors[name] = f"Unknown field for a {event_type} event."
    for name, spec in schema.items():
        if name not in data or data[name] is None:
            if spec.required:
                errors[name] = "This field is required."
            continue
        problem = CHECKS[spec.kind](data[name], spec)
        if problem:
            errors[name] = problem
    if not errors:
        errors = _cross_field_errors(event_type, event_subtype, data)
    if errors:
        raise ValidationError({f"event_data.{name}": message for name, message in errors.items()})
    return {name: value for name, value in data.items() if value is not None}
