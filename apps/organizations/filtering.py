"""django-filter for plain APIViews: bad filter values are a 400 naming the parameter, never a 500."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request


def filter_queryset(filterset_class: type[django_filters.FilterSet], request: Request, queryset: QuerySet[Any]) -> Any:
    """The queryset narrowed by the request's query parameters through `filterset_class`."""
    filterset = filterset_class(request.query_params, queryset=queryset, request=request)
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    return filterset.qs
