"""Each event type's `event_data` as an OpenAPI shape, built from the declared schemas (`schemas.SCHEMAS`), so the
documentation and the validation read the same declaration."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from .schemas import CLOCK_TIME, SCHEMAS, FieldSpec
from .vocabulary import EventType


def _field(spec: FieldSpec) -> serializers.Field:
    required: dict[str, Any] = {"required": spec.required}
    if spec.kind == "text":
        return serializers.CharField(max_length=spec.max_length, **required)
    if spec.kind in ("int", "number"):
        kind = serializers.IntegerField if spec.kind == "int" else serializers.FloatField
        bounds: dict[str, Any] = {"min_value": spec.minimum, "max_value": spec.maximum}
        return kind(**bounds, **required)
    if spec.kind == "choice":
        return serializers.ChoiceField(choices=list(spec.choices), **required)
    if spec.kind == "uuid":
        return serializers.UUIDField(**required)
    if spec.kind == "clock":
        return serializers.RegexField(CLOCK_TIME.pattern, help_text="HH:MM", **required)
    return serializers.ListField(
        child=serializers.CharField(max_length=100),
        max_length=spec.max_items,
        min_length=1 if spec.required else 0,
        **required,
    )


def _serializer(event_type: str) -> type[serializers.Serializer]:
    name = "".join(part.capitalize() for part in event_type.split("_")) + "EventData"
    fields = {field: _field(spec) for field, spec in SCHEMAS[event_type].items()}
    return type(name, (serializers.Serializer,), {**fields, "Meta": type("Meta", (), {"ref_name": name})})


EVENT_DATA: dict[str, type[serializers.Serializer]] = {event_type: _serializer(event_type) for event_type in SCHEMAS}

# Assessment events are written by completing an assessment, never posted.
POSTABLE_TYPES = [event_type for event_type in EventType.values if event_type != EventType.ASSESSMENT]
