"""`Idempotency-Key` for POSTs that create money.

The first request with a key stores a fingerprint of its body and, once it succeeds, its response; the same
key with the same body replays that response (nothing new is created), with another body it is refused with
422. The record is written in the request's transaction: if the request fails, the record is rolled back with
everything else, and a concurrent duplicate waits on the unique key until the first one commits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from django.db import IntegrityError, transaction
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from .models import IdempotencyRecord

HEADER = "Idempotency-Key"


class IdempotencyKeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was used with a different request body."
    default_code = "idempotency_key_reused"


class IdempotentRequestInProgress(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still being processed."
    default_code = "idempotency_in_progress"


def _fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


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
            record = IdempotencyRecord.objects.create(key=key, fingerprint=fingerprint)
    except IntegrityError:
        existing = IdempotencyRecord.objects.get(key=key)
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
