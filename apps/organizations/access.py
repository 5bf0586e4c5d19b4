"""Access rules the apps share.

Request ids become objects one way: another organization's row and a missing row are both 404. A CLINICAL_PHI
row from a principal without PHI access is refused one way: a 403 before the database's policy refuses it.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import Http404

from . import context
from .roles import DataClassification

M = TypeVar("M", bound=Model)

PHI_WRITE_FORBIDDEN = "This role may not record data classified CLINICAL_PHI."


def object_or_404(queryset: QuerySet[M], pk: Any) -> M:
    """Fetch by primary key through RLS; hidden, absent and malformed ids all answer 404."""
    try:
        return queryset.get(pk=pk)
    except (ObjectDoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404 from None


def require_phi_write(classification: str) -> None:
    """Refuse (403) recording a CLINICAL_PHI row for a coach or a partner key without PHI access.

    The database's restrictive PHI policy refuses such a row too, but as an error the request would answer 500.
    """
    ctx = context.current()
    if classification == DataClassification.CLINICAL_PHI and ctx is not None and not ctx.can_read_phi:
        raise PermissionDenied(PHI_WRITE_FORBIDDEN)
