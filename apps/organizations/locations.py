"""`Location` on a 201: the created object's own URL, where the API has one (`<list URL><id>/` answering GET).

One rule for the schema (`config.openapi` documents the header on those operations) and for the answer
(`QueryParameterMiddleware` sets it from the created object's `id`).
"""

from __future__ import annotations

import re
import uuid
from functools import lru_cache
from typing import Any

from django.urls import Resolver404, resolve

_PLACEHOLDER = re.compile(r"\{[^}]+\}")
_SAMPLE = str(uuid.UUID(int=0))


def _answers_get(path: str) -> bool:
    try:
        match = resolve(path)
    except Resolver404:
        return False
    view_class = getattr(match.func, "view_class", None) or getattr(match.func, "cls", None)
    return view_class is not None and callable(getattr(view_class, "get", None))


@lru_cache(maxsize=256)
def creates_at_own_url(schema_path: str) -> bool:
    """Whether a POST to `schema_path` (`/api/v1/patients/`) creates objects that have their own URL."""
    return _answers_get(_PLACEHOLDER.sub(_SAMPLE, schema_path) + f"{_SAMPLE}/")


def location_of(request_path: str, body: Any) -> str | None:
    """The created object's URL for a 201 answered at `request_path`, or None when it has none."""
    if not isinstance(body, dict) or not request_path.endswith("/"):
        return None
    try:
        object_id = uuid.UUID(str(body.get("id")))
    except ValueError:
        return None
    path = f"{request_path}{object_id}/"
    return path if _answers_get(path) else None
