"""FHIR search: parameters parsed strictly (an unsupported or malformed one is an error naming it, never echoing
its value), tables filtered, and pages cut in (date, table, id) order with an opaque cursor.

A type served by several tables (Observation) and `Patient/<id>/$everything` (every type) read each table in that
order after the cursor, at most one page plus one row each, and merge them: a page costs the same number of
queries wherever it starts, and a row written meanwhile never shifts the rows of later pages.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import heapq
import json
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils import timezone

from apps.organizations.input_checks import in_utc

from .sources import Source, Token

DEFAULT_COUNT = 50
MAX_COUNT = 500
EVERYTHING_DEFAULT_COUNT = 200
EVERYTHING_MAX_COUNT = 1000

# Parameters every search takes; `_format` only says JSON (the one format served).
COMMON = frozenset({"_count", "_cursor", "_lastUpdated", "_id", "_format"})
JSON_FORMATS = frozenset({"json", "application/json", "application/fhir+json"})
SINGLE_VALUED = frozenset({"_count", "_cursor", "_id", "_format", "patient", "_since"})


class SearchError(Exception):
    """A request FHIR cannot answer: `status` and an OperationOutcome issue `code`; the message names the
    parameter, never its value."""

    def __init__(self, message: str, *, status: int = 400, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


# --- dates -----------------------------------------------------------------------------------------------------

_DATE = re.compile(
    r"^(?P<prefix>[a-z]{2})?(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,6}))?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
SUPPORTED_PREFIXES = frozenset({"eq", "gt", "lt", "ge", "le", "sa", "eb"})


@dataclass(frozen=True)
class DateRange:
    """A date parameter: its prefix and the instants [low, high) its value stands for."""

    prefix: str
    low: dt.datetime
    high: dt.datetime

    def condition(self, field_name: str, *, is_date: bool) -> Q:
        """The rows whose `field_name` matches (a DateField's day counts from its local midnight)."""
        if self.prefix == "eq":
            low, high = self._bound(self.low, is_date), self._bound(self.high, is_date)
            return Q(**{f"{field_name}__gte": low, f"{field_name}__lt": high})
        if self.prefix in ("gt", "sa"):
            return Q(**{f"{field_name}__gte": self._bound(self.high, is_date)})
        if self.prefix == "ge":
            return Q(**{f"{field_name}__gte": self._bound(self.low, is_date)})
        if self.prefix in ("lt", "eb"):
            return Q(**{f"{field_name}__lt": self._bound(self.low, is_date)})
        return Q(**{f"{field_name}__lt": self._bound(self.high, is_date)})  # le

    @staticmethod
    def _bound(moment: dt.datetime, is_date: bool) -> dt.datetime | dt.date:
        if not is_date:
            return moment
        local = timezone.localtime(moment)
        first_whole_day = local.date()
        if local.time() != dt.time(0):
            first_whole_day += dt.timedelta(days=1)
        return first_whole_day


def parse_date(name: str, raw: str) -> DateRange:
    """A FHIR date search value (`ge2024-05`, `2024-05-01T10:00:00Z`, ...) in the clinic's zone when it names
    none."""
    match = _DATE.match(raw)
    if match is None:
        raise SearchError(
            f"{name}: not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or a dateTime), with an optional prefix."
        )
    parts = match.groupdict()
    prefix = parts["prefix"] or "eq"
    if prefix not in SUPPORTED_PREFIXES:
        raise SearchError(f"{name}: the prefix is not supported (use eq, gt, ge, lt, le, sa or eb).")
    zone: dt.tzinfo = timezone.get_current_timezone()
    if parts["zone"]:
        zone = dt.UTC if parts["zone"] == "Z" else dt.datetime.strptime(parts["zone"], "%z").tzinfo or dt.UTC
    try:
        year, month, day = int(parts["year"]), int(parts["month"] or 1), int(parts["day"] or 1)
        if parts["hour"] is None:
            low_day = dt.date(year, month, day)
            if parts["day"]:
                high_day = low_day + dt.timedelta(days=1)
            elif parts["month"]:
                high_day = dt.date(year + month // 12, month % 12 + 1, 1)
            else:
                high_day = dt.date(year + 1, 1, 1)
            low = dt.datetime.combine(low_day, dt.time(0), zone)
            high = dt.datetime.combine(high_day, dt.time(0), zone)
        else:
            fraction = (parts["fraction"] or "").ljust(6, "0")
            low = dt.datetime(
                year, month, day, int(parts["hour"]), int(parts["minute"]), int(parts["second"] or 0),
                int(fraction or 0), tzinfo=zone,
            )  # fmt: skip
            if parts["fraction"]:
                step = dt.timedelta(microseconds=1)
            elif parts["second"]:
                step = dt.timedelta(seconds=1)
            else:
                step = dt.timedelta(minutes=1)
            high = low + step
    except (ValueError, OverflowError):
        raise SearchError(f"{name}: not a valid date.") from None
    low_utc, high_utc = in_utc(low), in_utc(high)
    if low_utc is None or high_utc is None:
        raise SearchError(f"{name}: date out of range.")
    return DateRange(prefix, low_utc, high_utc)


# --- tokens, counts, cursors -----------------------------------------------------------------------------------


def parse_tokens(name: str, raw: str) -> list[Token]:
    """`system|code`, `code` or `|code` (no system), comma-separated alternatives."""
    tokens: list[Token] = []
    for part in raw.split(","):
        system, bar, code = part.rpartition("|")
        if not code or len(code) > 100 or len(system) > 200:
            raise SearchError(f"{name}: give a code, as code or system|code.")
        tokens.append((system if bar and system else None, code))
    return tokens


def parse_count(raw: str | None, *, default: int, maximum: int) -> int:
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise SearchError("_count: give a whole number of at least 1.")
    return min(int(raw), maximum)


Cursor = tuple[dt.datetime, int, uuid.UUID]


def encode_cursor(cursor: Cursor) -> str:
    moment, table, row_id = cursor
    text = json.dumps([moment.isoformat(), table, str(row_id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(raw: str) -> Cursor:
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        moment, table, row_id = json.loads(text)
        cursor = (dt.datetime.fromisoformat(moment), int(table), uuid.UUID(row_id))
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, AttributeError):
        raise SearchError("_cursor: not a cursor this server gave (use the Bundle's next link).") from None
    if cursor[0].tzinfo is None:
        raise SearchError("_cursor: not a cursor this server gave (use the Bundle's next link).")
    return cursor


# --- the query -------------------------------------------------------------------------------------------------


@dataclass
class Query:
    """A parsed search: which rows of which tables, and which page of them."""

    count: int
    cursor: Cursor | None = None
    patient_id: uuid.UUID | None = None
    resource_id: str | None = None
    dates: list[tuple[str, DateRange]] = field(default_factory=list)
    codes: list[tuple[str, list[Token]]] = field(default_factory=list)
    last_updated: list[DateRange] = field(default_factory=list)


def _single(params: QueryDict, name: str) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        raise SearchError(f"{name}: give it once.")
    return values[0] if values else None


def parse_search(params: QueryDict, sources: Sequence[Source], *, patient_param: bool = True) -> Query:
    """The search `params` over `sources`: every parameter must be one the sources support."""
    dates = {name for source in sources for name in source.dates}
    codes = {source.code_parameter for source in sources if source.code_parameter}
    allowed = COMMON | dates | codes | ({"patient"} if patient_param else set())
    return _parse(params, allowed=allowed, dates=dates, codes=codes, default=DEFAULT_COUNT, maximum=MAX_COUNT)


def parse_everything(params: QueryDict) -> Query:
    """`$everything`'s parameters: `_count`, `_since` (changed since) and the paging cursor."""
    query = _parse(
        params,
        allowed=frozenset({"_count", "_cursor", "_since", "_format"}),
        dates=set(),
        codes=set(),
        default=EVERYTHING_DEFAULT_COUNT,
        maximum=EVERYTHING_MAX_COUNT,
    )
    since = _single(params, "_since")
    if since is not None:
        query.last_updated.append(parse_date("_since", "ge" + since))
    return query


def _parse(
    params: QueryDict,
    *,
    allowed: frozenset[str] | set[str],
    dates: set[str],
    codes: set[str],
    default: int,
    maximum: int,
) -> Query:
    unsupported = sorted(name for name in params if name not in allowed)
    if unsupported:
        # Names only: a parameter name is the client's vocabulary, not a patient's data (and is length-capped).
        shown = ", ".join(name[:40] for name in unsupported[:5])
        raise SearchError(f"Unsupported search parameter(s) for this resource type: {shown}.", code="not-supported")
    for name in SINGLE_VALUED & set(params):
        _single(params, name)
    format_ = params.get("_format")
    if format_ is not None and format_ not in JSON_FORMATS:
        raise SearchError("_format: only JSON (application/fhir+json) is served.", code="not-supported")
    query = Query(count=parse_count(params.get("_count"), default=default, maximum=maximum))
    if (raw_cursor := params.get("_cursor")) is not None:
        query.cursor = decode_cursor(raw_cursor)
    if (raw_patient := params.get("patient")) is not None:
        try:
            query.patient_id = uuid.UUID(raw_patient.removeprefix("Patient/"))
        except ValueError:
            raise SearchError("patient: give a Patient id (or Patient/<id>).") from None
    if (raw_id := params.get("_id")) is not None:
        query.resource_id = raw_id
    for raw in params.getlist("_lastUpdated"):
        query.last_updated.append(parse_date("_lastUpdated", raw))
    for name in dates & set(params):
        query.dates.extend((name, parse_date(name, raw)) for raw in params.getlist(name))
    for name in codes & set(params):
        query.codes.extend((name, parse_tokens(name, raw)) for raw in params.getlist(name))
    return query


def source_rows(source: Source, query: Query, table: int) -> QuerySet[Any] | None:
    """The rows of `source` the query names, in page order, after the cursor (None: the query excludes them)."""
    rows = source.queryset()
    if source.patient_field != "id" and query.patient_id is None:
        # Resources of a soft-deleted patient are gone with the patient (a named patient was found active).
        rows = rows.filter(patient__deleted_at__isnull=True)
    if query.patient_id is not None:
        rows = rows.filter(**{source.patient_field: query.patient_id})
    if query.resource_id is not None:
        row_id = source.row_id(query.resource_id)
        if row_id is None:
            return None
        rows = rows.filter(pk=row_id)
    for name, date_range in query.dates:
        if name not in source.dates:
            return None
        field_name, is_date = source.dates[name]
        rows = rows.filter(date_range.condition(field_name, is_date=is_date))
    for name, tokens in query.codes:
        if name != source.code_parameter or source.codes is None:
            return None
        condition = source.codes(tokens)
        if condition is None:
            return None
        rows = rows.filter(condition)
    for date_range in query.last_updated:
        rows = rows.filter(date_range.condition("updated_at", is_date=False))
    if query.cursor is not None:
        rows = rows.filter(_after(source.order_field, table, query.cursor))
    return rows.order_by(source.order_field, "pk")


def _after(order_field: str, table: int, cursor: Cursor) -> Q:
    moment, cursor_table, row_id = cursor
    if table > cursor_table:
        return Q(**{f"{order_field}__gte": moment})
    if table < cursor_table:
        return Q(**{f"{order_field}__gt": moment})
    return Q(**{f"{order_field}__gt": moment}) | Q(**{order_field: moment, "pk__gt": row_id})


def _order_value(row: Any, order_field: str) -> dt.datetime:
    value = row
    for part in order_field.split("__"):
        value = getattr(value, part)
    return value


@dataclass
class Page:
    """The rows of one page, each with its source, and the cursor of the next page (None: the last)."""

    rows: list[tuple[Source, Any]]
    next_cursor: Cursor | None


def page(sources: Sequence[Source], query: Query) -> Page:
    """One page of the merged rows of `sources` (one query per table)."""

    def keyed(table: int, source: Source, rows: QuerySet[Any]) -> Iterator[tuple[Cursor, Source, Any]]:
        for row in rows[: query.count + 1]:
            yield (_order_value(row, source.order_field), table, row.pk), source, row

    streams = []
    for table, source in enumerate(sources):
        rows = source_rows(source, query, table)
        if rows is not None:
            streams.append(list(keyed(table, source, rows)))
    merged = heapq.merge(*streams, key=lambda item: item[0])
    chosen = []
    for item in merged:
        chosen.append(item)
        if len(chosen) > query.count:
            break
    next_cursor = chosen[query.count - 1][0] if len(chosen) > query.count else None
    return Page([(source, row) for _, source, row in chosen[: query.count]], next_cursor)
