"""django-filter for plain APIViews: bad filter values are a 400 naming the parameter, never a 500."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from .input_checks import DATETIME_RANGE_MESSAGE, in_utc


def filter_queryset(filterset_class: type[django_filters.FilterSet], request: Request, queryset: QuerySet[Any]) -> Any:
    """The queryset narrowed by the request's query parameters through `filterset_class`."""
    filterset = filterset_class(request.query_params, queryset=queryset, request=request)
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    _datetimes_in_utc(filterset.form.cleaned_data)
    return filterset.qs


def _datetimes_in_utc(cleaned: dict[str, Any]) -> None:
    """Aware datetimes converted to UTC before they reach SQL.

    Python accepts UTC offsets up to ±23:59 but PostgreSQL only up to ±15:59 (a 500 otherwise); a value that
    leaves the representable range once in UTC is a 400 naming the parameter.
    """
    errors = {}
    for name, value in cleaned.items():
        if isinstance(value, datetime) and value.tzinfo is not None:
            utc = in_utc(value)
            if utc is None:
                errors[name] = [DATETIME_RANGE_MESSAGE]
            else:
                cleaned[name] = utc
    if errors:
        raise ValidationError(errors)


def filter_parameters(filterset_class: type[django_filters.FilterSet]) -> list[OpenApiParameter]:
    """OpenAPI query parameters for a FilterSet used by a plain APIView (spectacular documents it no other way)."""
    parameters = []
    for name, declared in filterset_class.base_filters.items():
        choices = declared.extra.get("choices")
        parameters.append(
            OpenApiParameter(
                name,
                _OPENAPI_TYPES.get(type(declared), OpenApiTypes.STR),
                OpenApiParameter.QUERY,
                required=False,
                description=str(declared.extra.get("help_text", "")),
                enum=[value for value, _label in choices] if choices else None,
            )
        )
    return parameters


_OPENAPI_TYPES: dict[type[django_filters.Filter], OpenApiTypes] = {
    django_filters.UUIDFilter: OpenApiTypes.UUID,
    django_filters.DateFilter: OpenApiTypes.DATE,
    django_filters.IsoDateTimeFilter: OpenApiTypes.DATETIME,
    django_filters.DateTimeFilter: OpenApiTypes.DATETIME,
    django_filters.BooleanFilter: OpenApiTypes.BOOL,
    django_filters.NumberFilter: OpenApiTypes.NUMBER,
}
