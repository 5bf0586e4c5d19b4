"""Reads for biomarkers, in SQL: raw series with keyset pagination, bucketed series, latest values, and
out-of-reference readings. Each is one statement whatever the number of points; row-level security decides
which rows (and whether PHI rows) the caller sees.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

from apps.patients.models import reachable_patient_ids

from . import catalog
from .models import BiomarkerLog

BUCKETS = ("hour", "day", "week")


@dataclass(frozen=True)
class Bucket:
    start: datetime
    count: int
    min: float
    max: float
    mean: float


class ReadingRow(Protocol):
    """A reading as a series page carries it: the columns `SERIES_POINT_FIELDS` names, as attributes (the ones the
    selectors and the output's method field read are declared here; a model instance fits too)."""

    id: uuid.UUID
    metric_type: str
    value_numeric: float | None
    value_text: str | None
    captured_at: datetime


# What a series page shows of each reading (the reading output). Pages are named rows, not model instances:
# building 500 instances costs twice the query (4.5 ms against 2.0 ms for 230 points, bench/README.md).
SERIES_POINT_FIELDS = (
    "id",
    "patient_id",
    "source",
    "source_reading_id",
    "metric_type",
    "value_numeric",
    "value_text",
    "unit",
    "captured_at",
    "created_at",
    "data_classification",
)


@dataclass(frozen=True)
class SeriesPage:
    points: list[ReadingRow]
    next_cursor: str | None


class InvalidCursorError(ValueError):
    pass


def encode_cursor(log: ReadingRow) -> str:
    return base64.urlsafe_b64encode(f"{log.captured_at.isoformat()}|{log.id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        captured, _, pk = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        when = parse_datetime(captured)
        if when is None:
            raise InvalidCursorError("Invalid cursor.")
        return when, uuid.UUID(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidCursorError("Invalid cursor.") from error


def biomarker_series_queryset(
    *, patient_id: uuid.UUID, metric_type: str, start: datetime, end: datetime
) -> QuerySet[BiomarkerLog]:
    """Readings of one patient and metric in [start, end), oldest first (served by the series index)."""
    return BiomarkerLog.objects.filter(
        patient_id=patient_id, metric_type=metric_type, captured_at__gte=start, captured_at__lt=end
    ).order_by("captured_at", "id")


def biomarker_series_raw(
    *,
    patient_id: uuid.UUID,
    metric_type: str,
    start: datetime,
    end: datetime,
    limit: int = 500,
    cursor: str | None = None,
) -> SeriesPage:
    """One page of raw points; `next_cursor` continues after the last point (keyset: stable under inserts)."""
    queryset = biomarker_series_queryset(patient_id=patient_id, metric_type=metric_type, start=start, end=end)
    if cursor:
        after_time, after_id = decode_cursor(cursor)
        queryset = queryset.filter(Q(captured_at__gt=after_time) | Q(captured_at=after_time, id__gt=after_id))
    rows: list[ReadingRow] = list(queryset.values_list(*SERIES_POINT_FIELDS, named=True)[: limit + 1])
    has_more = len(rows) > limit
    points = rows[:limit]
    return SeriesPage(points=points, next_cursor=encode_cursor(points[-1]) if has_more and points else None)


# date_bin with a Monday origin gives ISO weeks; hour and day bins start on the UTC hour and day.
_BUCKET_SQL = """
SELECT date_bin(%(width)s::interval, captured_at, TIMESTAMPTZ '2000-01-03 00:00:00+00') AS bucket,
       count(*) AS n, min(value_numeric), max(value_numeric), avg(value_numeric)
FROM biomarkers_biomarkerlog
WHERE patient_id = %(patient_id)s AND metric_type = %(metric_type)s
  AND captured_at >= %(start)s AND captured_at < %(end)s AND value_numeric IS NOT NULL
GROUP BY bucket
ORDER BY bucket
"""

_BUCKET_WIDTH = {"hour": "1 hour", "day": "1 day", "week": "7 days"}


def bucketed_series_sql(
    *, patient_id: uuid.UUID, metric_type: str, start: datetime, end: datetime, bucket: str
) -> tuple[str, dict[str, Any]]:
    """The statement behind `biomarker_series_bucketed` (exposed so its plan can be inspected)."""
    if bucket not in _BUCKET_WIDTH:
        raise ValueError(f"bucket must be one of {', '.join(BUCKETS)}")
    params = {
        "width": _BUCKET_WIDTH[bucket],
        "patient_id": patient_id,
        "metric_type": metric_type,
        "start": start,
        "end": end,
    }
    return _BUCKET_SQL, params


def biomarker_series_bucketed(
    *, patient_id: uuid.UUID, metric_type: str, start: datetime, end: datetime, bucket: str
) -> list[Bucket]:
    """Count, min, max and mean per hour, day or ISO week, computed by PostgreSQL."""
    statement, params = bucketed_series_sql(
        patient_id=patient_id, metric_type=metric_type, start=start, end=end, bucket=bucket
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return [Bucket(start=row[0], count=row[1], min=row[2], max=row[3], mean=row[4]) for row in cursor.fetchall()]


_ALL_METRICS_BUCKET_SQL = """
SELECT metric_type,
       date_bin(%(width)s::interval, captured_at, TIMESTAMPTZ '2000-01-03 00:00:00+00') AS bucket,
       count(*), min(value_numeric), max(value_numeric), avg(value_numeric)
FROM biomarkers_biomarkerlog
WHERE patient_id = %(patient_id)s AND captured_at >= %(start)s AND captured_at < %(end)s
  AND value_numeric IS NOT NULL
GROUP BY metric_type, bucket
ORDER BY metric_type, bucket
"""


def biomarker_patient_buckets(
    *, patient_id: uuid.UUID, start: datetime, end: datetime, bucket: str
) -> dict[str, list[Bucket]]:
    """Every numeric metric of a patient, bucketed, in one statement (for the patient page's charts)."""
    if bucket not in _BUCKET_WIDTH:
        raise ValueError(f"bucket must be one of {', '.join(BUCKETS)}")
    params: dict[str, Any] = {"width": _BUCKET_WIDTH[bucket], "patient_id": patient_id, "start": start, "end": end}
    series: dict[str, list[Bucket]] = {}
    with connection.cursor() as cursor:
        cursor.execute(_ALL_METRICS_BUCKET_SQL, params)
        for metric_type, when, count, low, high, mean in cursor.fetchall():
            series.setdefault(metric_type, []).append(Bucket(start=when, count=count, min=low, max=high, mean=mean))
    return series


_LATEST_SQL = """
SELECT latest.*
FROM unnest(%(metrics)s::text[]) AS wanted(metric_type)
CROSS JOIN LATERAL (
    SELECT b.* FROM biomarkers_biomarkerlog b
    WHERE b.patient_id = %(patient_id)s AND b.metric_type = wanted.metric_type
    ORDER BY b.captured_at DESC
    LIMIT 1
) AS latest
ORDER BY latest.metric_type
"""


def biomarker_latest_per_metric(*, patient_id: uuid.UUID) -> list[BiomarkerLog]:
    """The newest reading of each catalog metric the caller may see (one index probe per metric)."""
    params = {"metrics": list(catalog.METRICS), "patient_id": patient_id}
    return list(BiomarkerLog.objects.raw(_LATEST_SQL, params))


_OUT_OF_REFERENCE_SQL = """
SELECT b.* FROM biomarkers_biomarkerlog b
WHERE b.captured_at >= %(start)s AND b.captured_at < %(end)s
  AND (%(patient_id)s::uuid IS NULL OR b.patient_id = %(patient_id)s::uuid)
  AND (%(reachable)s::uuid[] IS NULL OR b.patient_id = ANY(%(reachable)s::uuid[]))
  AND (
    EXISTS (SELECT 1 FROM unnest(%(num_metrics)s::text[], %(lows)s::float8[], %(highs)s::float8[]) AS r(m, lo, hi)
            WHERE r.m = b.metric_type AND (b.value_numeric < r.lo OR b.value_numeric > r.hi))
    OR EXISTS (SELECT 1 FROM unnest(%(text_metrics)s::text[], %(text_values)s::text[]) AS t(m, v)
               WHERE t.m = b.metric_type AND t.v = b.value_text)
  )
ORDER BY b.captured_at, b.id
LIMIT %(limit)s
"""


def biomarker_out_of_reference(
    *, start: datetime, end: datetime, patient_id: uuid.UUID | None = None, limit: int = 500
) -> list[BiomarkerLog]:
    """Readings outside their metric's reference range (or in an abnormal category) in [start, end)."""
    metrics, lows, highs = catalog.numeric_reference_ranges()
    text_metrics, text_values = catalog.abnormal_text_values()
    params = {
        "start": start,
        "end": end,
        "patient_id": patient_id,
        "reachable": reachable_patient_ids(),
        "num_metrics": metrics,
        "lows": lows,
        "highs": highs,
        "text_metrics": text_metrics,
        "text_values": text_values,
        "limit": limit,
    }
    return list(BiomarkerLog.objects.raw(_OUT_OF_REFERENCE_SQL, params))
