"""Output serializers that render their declared fields without DRF's per-field machinery.

A list endpoint renders every field of every row through DRF: a `get_attribute` call per field and a
`to_representation` per value, which for a datetime looks up the current time zone through asgiref (4 µs). On a
229-point series that was 8.3 ms of the request (bench/README.md).

`OutputSerializer` keeps the declared fields, so the OpenAPI schema is unchanged. It renders a row with one
getter and one converter per field, both chosen once per serializer from its bound fields: `str` for text and
UUIDs, `int`, `float`, ISO 8601 for dates and datetimes (the time zone read once per response), the value itself
for JSON, the serializer's method for a method field. A field of any other kind renders through DRF's own
field. A value the short cut does not expect (a naive datetime, a callable attribute, a missing attribute or
related row) sends the whole row through DRF's `Serializer.to_representation`, so the result and the errors are
DRF's. A subclass that overrides `to_representation` renders its rows itself, in a list too; one that declares
its own `Meta` without `list_serializer_class` gets DRF's list, which is right but reads the zone per row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject
from rest_framework.settings import api_settings

Converter = Callable[[Any], Any]


class Step(NamedTuple):
    name: str
    get: Callable[[Any], Any]  # the value from the instance
    convert: Converter | None  # None: `get` rendered it already (a method field, or DRF's own field)


class Unexpected(Exception):  # noqa: N818  (control flow, never leaves this module)
    """A value the short cut does not handle: DRF renders the row."""


class _Skip:
    """DRF's field asked to leave the key out (SkipField)."""


SKIP = _Skip()


def _same(value: Any) -> Any:
    return value


def _date(value: Any) -> str:
    if type(value) is not dt.date:
        raise Unexpected
    return value.isoformat()


UTC_NAMES = frozenset({"UTC", "Etc/UTC"})


def _datetime_in(zone: dt.tzinfo) -> Converter:
    if zone is dt.UTC or getattr(zone, "key", None) in UTC_NAMES:
        zone = dt.UTC  # renders the same; values read from the database already carry it

    def convert(value: Any) -> str:
        if type(value) is not dt.datetime or value.tzinfo is None:
            raise Unexpected  # naive or not a datetime: DRF makes it aware in the current zone, or refuses it
        if value.tzinfo is not zone:
            try:
                value = value.astimezone(zone)
            except OverflowError:
                raise Unexpected from None
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return convert


def _iso(field: serializers.Field, setting: str) -> bool:
    return str(getattr(field, "format", getattr(api_settings, setting))).lower() == ISO_8601


def _converter(field: serializers.Field, zone: dt.tzinfo | None) -> Converter | bool:
    """How a field's value renders on the short cut; False when only DRF's field can render it.

    Only the exact DRF classes qualify: a subclass may render differently."""
    kind = type(field)
    if kind in (serializers.CharField, serializers.UUIDField):
        return str if kind is serializers.CharField or field.uuid_format == "hex_verbose" else False  # type: ignore[attr-defined]
    if kind is serializers.IntegerField:
        return int
    if kind is serializers.FloatField:
        return float
    if kind is serializers.JSONField:
        return _same if not field.binary else False  # type: ignore[attr-defined]
    if kind is serializers.DateField and _iso(field, "DATE_FORMAT"):
        return _date
    if kind is serializers.DateTimeField and _iso(field, "DATETIME_FORMAT") and not hasattr(field, "timezone"):
        return _datetime_in(zone) if zone is not None else False
    return False


class OutputSerializer(serializers.Serializer):
    """A serializer for responses: declared fields, rendered as DRF renders them, at a fraction of the cost."""

    class Meta:
        list_serializer_class: type[serializers.ListSerializer]  # set below: OutputListSerializer

    def _steps(self, zone: dt.tzinfo | None, mapping: bool) -> tuple[Step, ...]:
        cache: dict[tuple[dt.tzinfo | None, bool], tuple[Step, ...]] = self.__dict__.setdefault("_step_cache", {})
        steps = cache.get((zone, mapping))
        if steps is None:
            steps = cache[(zone, mapping)] = tuple(self._build_steps(zone, mapping))
        return steps

    def _build_steps(self, zone: dt.tzinfo | None, mapping: bool) -> list[Step]:
        steps = []
        for name, field in self.fields.items():  # bound: a subclass's get_fields() and __init__ changes count
            if field.write_only:
                continue
            if type(field) is serializers.SerializerMethodField:
                steps.append(Step(name, getattr(self, field.method_name), None))
                continue
            convert = _converter(field, zone)
            if convert is False or len(field.source_attrs) != 1:  # another kind, "*" or a dotted source
                steps.append(Step(name, self._drf_field(field), None))
            else:
                source = field.source_attrs[0]
                steps.append(Step(name, itemgetter(source) if mapping else attrgetter(source), convert))  # type: ignore[arg-type]
        return steps

    @staticmethod
    def _drf_field(field: serializers.Field) -> Callable[[Any], Any]:
        """DRF's own rendering of one field, as `Serializer.to_representation` does it."""

        def render(instance: Any) -> Any:
            try:
                attribute = field.get_attribute(instance)
            except SkipField:
                return SKIP
            check_for_none = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            return None if check_for_none is None else field.to_representation(attribute)

        return render

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return self.render(instance, current_zone())

    def render(self, instance: Any, zone: dt.tzinfo | None) -> dict[str, Any]:
        row: dict[str, Any] = {}
        try:
            for name, get, convert in self._steps(zone, isinstance(instance, Mapping)):
                value = get(instance)
                if convert is None:  # a method field, or rendered by DRF's field
                    if value is not SKIP:
                        row[name] = value
                elif value is None:
                    row[name] = None
                elif callable(value):
                    raise Unexpected  # DRF calls a method found under the field's name
                else:
                    row[name] = convert(value)
        except (Unexpected, AttributeError, KeyError, ObjectDoesNotExist):
            # Unexpected, or missing: DRF decides whether that is a default, a null, a skipped key or an error.
            return serializers.Serializer.to_representation(self, instance)
        return row


def current_zone() -> dt.tzinfo | None:
    """The zone DRF renders datetimes in (an asgiref lookup of 4 µs: once per response, not per row)."""
    return timezone.get_current_timezone() if settings.USE_TZ else None


class OutputListSerializer(serializers.ListSerializer):
    child: OutputSerializer

    def to_representation(self, data: Any) -> list[dict[str, Any]]:
        if type(self.child).to_representation is not OutputSerializer.to_representation:
            return super().to_representation(data)  # a subclass renders its rows its own way
        rows = data.all() if isinstance(data, models.manager.BaseManager) else data
        zone = current_zone()
        return [self.child.render(row, zone) for row in rows]


OutputSerializer.Meta.list_serializer_class = OutputListSerializer
