"""`Idempotency-Key` for POSTs that create money or data (DESIGN: every such POST accepts one).

The first request with a key stores a fingerprint of its method, path and body and, once it succeeds, its
response; the same key with the same request replays that response (nothing new is created, the replay says
`Idempotent-Replayed: true`); with another request it is refused with 422. Keys are scoped to the organization
and the actor (a staff user or a partner key), so two clients never meet on a key, and row-level security shows
a record only to its actor (`IdempotencyRecord`).

A record, with the response it stored, is kept at least `REPLAY_WINDOW` (24 hours, as payment APIs commonly
do) and until `purge_expired_records` removes it (run daily), so stored responses, which may show clinical data,
are not kept for long.

The record is written in the request's transaction: if the request fails, the record is rolled back with
everything else (the key can be used again), and a concurrent duplicate waits on the unique key until the
first one commits, then replays it.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from . import context
from .models import IdempotencyRecord, current_actor
from .roles import DataClassification

HEADER = "Idempotency-Key"
REPLAY_WINDOW = timedelta(hours=24)
PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    description="Repeat-safe key (1-255 printable characters): a retry with the same key and body creates "
    "nothing new and gets the first response again; the same key with another body is refused with 422.",
)


class IdempotencyKeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was used with a different request."
    default_code = "idempotency_key_reused"


class IdempotencyKeyUnavailable(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key belongs to an earlier request this caller may no longer read; use a new key."
    default_code = "idempotency_key_unavailable"


class IdempotentRequestInProgress(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still being processed."
    default_code = "idempotency_in_progress"


def _fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _classification() -> str:
    """A record is as sensitive as what its actor may create: PHI unless the actor cannot read PHI."""
    ctx = context.current()
    if ctx is not None and not ctx.can_read_phi:
        return DataClassification.GENERAL_WELLNESS
    return DataClassification.CLINICAL_PHI


def idempotent(request: Request, create: Callable[[], Response]) -> Response:
    """Run `create` once per Idempotency-Key (when the header is present) and replay its response."""
    key = request.headers.get(HEADER)
    if key is None:
        return create()
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise ValidationError({HEADER: "Use 1-255 printable characters."})
    fingerprint = _fingerprint(request)
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                key=key, fingerprint=fingerprint, data_classification=_classification()
            )
    except IntegrityError:
        existing = IdempotencyRecord.objects.filter(actor=current_actor(), key=key).first()
        if existing is None:
            # Taken by this actor, but hidden now: a record holding clinical data, and the actor lost PHI access.
            raise IdempotencyKeyUnavailable() from None
        if existing.fingerprint != fingerprint:
            raise IdempotencyKeyReused() from None
        if existing.response_status is None:
            raise IdempotentRequestInProgress() from None
        replay = Response(existing.response_body, status=existing.response_status)
        replay["Idempotent-Replayed"] = "true"
        return replay
    response = create()
    record.response_status = response.status_code
    record.response_body = json.loads(json.dumps(response.data, default=str))
    record.save(update_fields=["response_status", "response_body", "updated_at"])
    return response


def idempotent_post(method: Callable[..., Response]) -> Callable[..., Response]:
    """Decorate an APIView's `post` that creates something: it accepts an `Idempotency-Key` (documented in
    the schema) and runs at most once per key. Put it below `@extend_schema`."""

    @functools.wraps(method)
    def post(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        return idempotent(request, lambda: method(view, request, *args, **kwargs))

    return extend_schema(parameters=[PARAMETER])(post)
