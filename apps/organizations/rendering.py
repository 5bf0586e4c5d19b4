"""Output serializers that render their declared fields without DRF's per-field machinery.

A list endpoint renders every field of every row through DRF: binding a deep copy of the fields to each
serializer instance, a `get_attribute` call per field, and a `to_representation` per value, which for a
datetime looks up the current time zone twice through asgiref. On a 230-point series or a page of patients that
is most of the request (see bench/README.md). `OutputSerializer` keeps the declared fields, so the OpenAPI
schema and validation of nested input are unchanged, and renders the common field types directly with the
same result DRF gives; any other field, and any value outside the fast path, goes through DRF's own code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import Enum, auto
from typing import Any, ClassVar, NamedTuple

from django.conf import settings
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.fields import SkipField
from rest_framework.settings import api_settings


class Kind(Enum):
    TEXT = auto()  # str(value), as CharField does
    UUID = auto()  # str(value): UUIDField with the default hex_verbose format
    INTEGER = auto()
    FLOAT = auto()
    JSON = auto()  # the value as it is: JSONField without binary
    DATETIME = auto()  # ISO 8601 in the current time zone, "Z" for UTC: DateTimeField with default format
    DATE = auto()  # ISO 8601: DateField with default format
    METHOD = auto()  # SerializerMethodField: the serializer's get_<name>(instance)
    FIELD = auto()  # anything else: DRF's own get_attribute and to_representation


class Step(NamedTuple):
    name: str
    source: str  # attribute or key read from the instance
    kind: Kind


def _kind(field: serializers.Field) -> Kind:
    # Subclasses may change how a value renders: only the exact DRF classes take the fast path.
    field_type = type(field)
    source = field.source if isinstance(field.source, str) else ""
    if source == "*" or "." in source:
        return Kind.FIELD
    if field_type is serializers.SerializerMethodField:
        return Kind.METHOD
    if field_type is serializers.CharField:
        return Kind.TEXT
    if field_type is serializers.UUIDField and field.uuid_format == "hex_verbose":  # type: ignore[attr-defined]
        return Kind.UUID
    if field_type is serializers.IntegerField:
        return Kind.INTEGER
    if field_type is serializers.FloatField:
        return Kind.FLOAT
    if field_type is serializers.JSONField and not field.binary:  # type: ignore[attr-defined]
        return Kind.JSON
    if (
        field_type is serializers.DateTimeField
        and str(getattr(field, "format", api_settings.DATETIME_FORMAT)).lower() == ISO_8601
        and not hasattr(field, "timezone")
    ):
        return Kind.DATETIME
    if (
        field_type is serializers.DateField
        and str(getattr(field, "format", api_settings.DATE_FORMAT)).lower() == ISO_8601
    ):
        return Kind.DATE
    return Kind.FIELD


def _source(name: str, field: serializers.Field) -> str:
    """The attribute a field reads, or for a method field the serializer method that renders it."""
    if isinstance(field, serializers.SerializerMethodField):
        return field.method_name or f"get_{name}"
    return field.source if isinstance(field.source, str) else name


class OutputSerializer(serializers.Serializer):
    """A serializer for responses: declared fields, rendered as DRF renders them, at a fraction of the cost."""

    _plans: ClassVar[dict[type, tuple[Step, ...]]] = {}

    @classmethod
    def _plan(cls) -> tuple[Step, ...]:
        plan = OutputSerializer._plans.get(cls)
        if plan is None:
            declared: dict[str, serializers.Field] = cls._declared_fields
            plan = tuple(
                Step(name, _source(name, field), _kind(field))
                for name, field in declared.items()
                if not field.write_only
            )
            OutputSerializer._plans[cls] = plan
        return plan

    def to_representation(self, instance: Any) -> dict[str, Any]:
        zone = timezone.get_current_timezone() if settings.USE_TZ else None
        mapping = isinstance(instance, Mapping)
        row: dict[str, Any] = {}
        for name, source, kind in self._plan():
            if kind is Kind.METHOD:
                row[name] = getattr(self, source)(instance)
                continue
            if kind is not Kind.FIELD:
                try:
                    value = instance[source] if mapping else getattr(instance, source)
                except Exception:  # missing, or a relation that does not exist: DRF decides (skip, None, error)
                    value = _DRF
                if value is None:
                    row[name] = None
                    continue
                if value is not _DRF and not callable(value):
                    text = _render(kind, value, zone)
                    if text is not _DRF:
                        row[name] = text
                        continue
            # DRF's own rendering of the field, as `Serializer.to_representation` does it.
            field = self.fields[name]
            try:
                attribute = field.get_attribute(instance)
            except SkipField:
                continue
            row[name] = None if attribute is None else field.to_representation(attribute)
        return row


_DRF: Any = object()  # "not on the fast path: let DRF's field render it"


def _render(kind: Kind, value: Any, zone: dt.tzinfo | None) -> Any:
    if kind is Kind.TEXT or kind is Kind.UUID:
        return str(value)
    if kind is Kind.DATETIME:
        if type(value) is not dt.datetime or value.tzinfo is None or zone is None:
            return _DRF  # naive or not a datetime: DRF makes it aware in the current zone, or refuses it
        try:
            text = value.astimezone(zone).isoformat()
        except OverflowError:
            return _DRF
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if kind is Kind.DATE:
        return value.isoformat() if type(value) is dt.date else _DRF
    if kind is Kind.INTEGER:
        return int(value)
    if kind is Kind.FLOAT:
        return float(value)
    if kind is Kind.JSON:
        return value
    return _DRF
