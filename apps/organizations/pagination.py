"""The API's one way to page a list (REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"]), and `updated_since`.

Every list answers `{"count", "next", "previous", "next_cursor", "results"}` and reads:

* `limit`: rows per page (default 50; a larger value than MAX_PAGE_SIZE gives MAX_PAGE_SIZE rows);
* `cursor`: the `next_cursor` of the previous page. Pages are keyset pages over the list's order (its last
  column is always the row's id), so a row added or removed while a client pages never shifts a page: nothing
  is skipped or repeated. The cursor names a row by id only (no value of the row travels in the URL);
* `updated_since`: only rows created or changed at or after this instant, oldest change first. A client that
  syncs keeps the largest `updated_at` it has seen and asks again with it (rows changed in the same instant
  come again, never fewer: compare by id);
* `offset`: deprecated (the previous pagination); still answered, with `previous`, until clients move to `cursor`.

Four lists keep a keyset page of their own under the same names (`cursor`, `limit`, `next_cursor`): the event
feed (its cursor is a position in commit order), a patient's timeline and biomarker series (a position in time),
and the out-of-reference readings (a position in time, over rows one SQL statement finds: no queryset to order
and count here).

Unbounded, a huge `limit` overflowed PostgreSQL's bigint LIMIT (a 500) and let one request read a whole table;
an `offset` past the end gives an empty page without reaching SQL.
"""

from __future__ import annotations

import base64
import binascii
import json
import operator
from collections.abc import Sequence
from datetime import datetime
from functools import reduce
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, Q, QuerySet
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from .input_checks import DATETIME_RANGE_MESSAGE, in_utc

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50

LIMIT = "limit"
CURSOR = "cursor"
UPDATED_SINCE = "updated_since"
OFFSET = "offset"

CURSOR_MESSAGE = "Not a cursor this list gave; pass the `next_cursor` of the previous page."
CURSOR_GONE_MESSAGE = "The row this cursor points at is gone; start again without a cursor."
CURSOR_MODE_MESSAGE = "This cursor belongs to a listing with a different `updated_since`; keep the same filters."
LIMIT_MESSAGE = "Must be a whole number of at least 1."
OFFSET_MESSAGE = "Must be a whole number of at least 0."
DATETIME_MESSAGE = "Give a date and time in ISO 8601 (2024-03-01T09:00:00Z)."
ONE_OF_MESSAGE = "Give `cursor` or the deprecated `offset`, not both."


def _whole_number(request: Request, name: str, minimum: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or int(raw) < minimum:
        raise ValidationError({name: [LIMIT_MESSAGE if name == LIMIT else OFFSET_MESSAGE]})
    return int(raw)


def updated_since(request: Request) -> datetime | None:
    """The request's `updated_since` in UTC, None when absent; a 400 naming it when it is not a datetime."""
    raw = request.query_params.get(UPDATED_SINCE)
    if raw is None or raw == "":
        return None
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise ValidationError({UPDATED_SINCE: [DATETIME_MESSAGE]})
    utc = in_utc(value)
    if utc is None:
        raise ValidationError({UPDATED_SINCE: [DATETIME_RANGE_MESSAGE]})
    return utc


def _ordering(queryset: QuerySet[Any], changes: bool) -> list[str]:
    """The list's order as field names ending with the primary key (the key makes every position unique)."""
    if changes:
        return ["updated_at", "pk"]
    declared: list[Any] = list(queryset.query.order_by) or list(queryset.query.get_meta().ordering or ())
    if not all(isinstance(field, str) for field in declared):
        raise TypeError("A paginated list orders by field names only.")
    fields: list[str] = declared
    if not fields or fields[-1].lstrip("-") not in ("pk", "id"):
        descending = bool(fields) and fields[0].startswith("-")
        fields.append("-pk" if descending else "pk")
    return fields


def _after(ordering: Sequence[str], values: dict[str, Any]) -> Q:
    """Rows that come after the row holding `values` in `ordering` (PostgreSQL sorts NULL last ascending)."""
    alternatives = []
    equal = Q()
    for field in ordering:
        name = field.lstrip("-")
        value = values[name]
        descending = field.startswith("-")
        if value is None:  # NULLs come first descending, last ascending
            beyond = Q(**{f"{name}__isnull": False}) if descending else None
            same = Q(**{f"{name}__isnull": True})
        elif descending:
            beyond = Q(**{f"{name}__lt": value})
            same = Q(**{name: value})
        else:
            beyond = Q(**{f"{name}__gt": value}) | Q(**{f"{name}__isnull": True})
            same = Q(**{name: value})
        if beyond is not None:
            alternatives.append(equal & beyond)
        equal &= same
    return reduce(operator.or_, alternatives, Q(pk__in=[]))


def encode_cursor(pk: Any, mode: str) -> str:
    raw = json.dumps({"k": str(pk), "m": mode}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        key, mode = data["k"], data["m"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise ValidationError({CURSOR: [CURSOR_MESSAGE]}) from None
    if not isinstance(key, str) or not isinstance(mode, str) or len(key) > 100:
        raise ValidationError({CURSOR: [CURSOR_MESSAGE]})
    return key, mode


class ListPagination(BasePagination):
    """Keyset pages (`cursor`, `limit`) over any list ordered by field names, and `updated_since`."""

    max_limit = MAX_PAGE_SIZE
    default_limit = DEFAULT_PAGE_SIZE

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        self.request = request
        limit = _whole_number(request, LIMIT, 1)
        self.limit = min(limit, self.max_limit) if limit is not None else self.default_limit
        offset = _whole_number(request, OFFSET, 0)
        cursor = request.query_params.get(CURSOR) or None
        if cursor is not None and offset is not None:
            raise ValidationError({CURSOR: [ONE_OF_MESSAGE]})
        since = updated_since(request)
        self.mode = "changes" if since is not None else "list"
        if since is not None:
            queryset = queryset.filter(updated_at__gte=since)
        ordering = _ordering(queryset, since is not None)
        queryset = queryset.order_by(*ordering)
        self.count = queryset.count()
        self.offset = offset
        if offset is not None:
            rows = [] if offset >= self.count else list(queryset[offset : offset + self.limit + 1])
        else:
            if cursor is not None:
                queryset = queryset.filter(self._after_cursor(queryset.model, ordering, cursor))
            rows = list(queryset[: self.limit + 1])
        self.has_more = len(rows) > self.limit
        page = rows[: self.limit]
        self.last_pk = page[-1].pk if page else None
        return page

    def _after_cursor(self, model: type[Model], ordering: Sequence[str], cursor: str) -> Q:
        key, mode = decode_cursor(cursor)
        if mode != self.mode:
            raise ValidationError({CURSOR: [CURSOR_MODE_MESSAGE]})
        names = [field.lstrip("-") for field in ordering]
        try:  # the caller's rows only (row-level security, consent): another's id is "gone" like a missing one
            values = model._default_manager.filter(pk=key).values(*names).first()
        except (DjangoValidationError, ValueError, TypeError):  # a key that is not an id of this table
            values = None
        if values is None:
            raise ValidationError({CURSOR: [CURSOR_GONE_MESSAGE]})
        return _after(ordering, values)

    def next_cursor(self) -> str | None:
        if not self.has_more or self.last_pk is None:
            return None
        return encode_cursor(self.last_pk, self.mode)

    def _next_link(self, next_cursor: str | None) -> str | None:
        if next_cursor is None:
            return None
        url = remove_query_param(self.request.build_absolute_uri(), OFFSET)
        return replace_query_param(url, CURSOR, next_cursor)

    def _previous_link(self) -> str | None:
        if not self.offset:
            return None
        url = self.request.build_absolute_uri()
        previous = max(self.offset - self.limit, 0)
        return remove_query_param(url, OFFSET) if previous == 0 else replace_query_param(url, OFFSET, previous)

    def get_paginated_response(self, data: Any) -> Response:
        next_cursor = self.next_cursor()
        return Response(
            {
                "count": self.count,
                "next": self._next_link(next_cursor),
                "previous": self._previous_link(),
                "next_cursor": next_cursor,
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["count", "next", "previous", "next_cursor", "results"],
            "properties": {
                "count": {"type": "integer", "description": "Rows in the whole list (with its filters)."},
                "next": {
                    "type": "string",
                    "format": "uri",
                    "nullable": True,
                    "description": "The next page's URL; null on the last page.",
                },
                "previous": {
                    "type": "string",
                    "format": "uri",
                    "nullable": True,
                    "description": "The previous page's URL with the deprecated `offset`; null otherwise.",
                },
                "next_cursor": {
                    "type": "string",
                    "nullable": True,
                    "description": "Pass as `cursor` for the next page; null on the last page.",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": CURSOR,
                "required": False,
                "in": "query",
                "description": "The `next_cursor` of the previous page.",
                "schema": {"type": "string"},
            },
            {
                "name": LIMIT,
                "required": False,
                "in": "query",
                "description": f"Rows per page (default {DEFAULT_PAGE_SIZE}, at most {MAX_PAGE_SIZE}).",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": UPDATED_SINCE,
                "required": False,
                "in": "query",
                "description": "Only rows created or changed at or after this instant, oldest change first. Sync by "
                "passing the largest `updated_at` seen so far.",
                "schema": {"type": "string", "format": "date-time"},
            },
            {
                "name": OFFSET,
                "required": False,
                "in": "query",
                "deprecated": True,
                "description": "Deprecated: page with `cursor`. Rows to skip.",
                "schema": {"type": "integer", "minimum": 0},
            },
        ]


# The earlier name, for code written before lists paged by cursor: the same class.
BoundedLimitOffsetPagination = ListPagination
