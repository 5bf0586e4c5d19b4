"""The one way request ids become objects: another organization's row and a missing row are both 404."""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Model, QuerySet
from django.http import Http404

M = TypeVar("M", bound=Model)


def object_or_404(queryset: QuerySet[M], pk: Any) -> M:
    """Fetch by primary key through RLS; hidden, absent and malformed ids all answer 404."""
    try:
        return queryset.get(pk=pk)
    except (ObjectDoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404 from None
