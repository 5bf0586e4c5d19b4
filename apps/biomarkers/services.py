"""Writes for biomarkers: validated, all-or-nothing, idempotent bulk ingestion of readings.

How a batch is stored (and why):

1. Every row is validated first (catalog, units, finiteness, timezone, not in the future, patient visible in
   this organization, PHI allowed for the caller). Any bad row: a ValidationError naming each bad row and
   field, nothing stored.
2. The rows are staged with binary COPY in a temporary table and inserted set-based with one ``INSERT ...
   SELECT``. The unique key (organization, source, source_reading_id) makes a retried batch, or two partners'
   retries racing each other, never store a reading twice: a new batch is inserted as it is; if it meets a
   reading already stored (or committed meanwhile by another request), the batch is stored again in three
   set-based steps: a known id sent for another patient or metric is refused (naming the row); a known id
   with a new value or time is a **correction**: the stored reading takes the new value and its history keeps
   the old one (a voided reading stays voided); the rest is inserted with ``ON CONFLICT DO NOTHING``, skipping
   the readings stored unchanged (duplicates).
3. Readings are clinical records, so the audit trail needs them: the same statement writes a history row
   ('+', actor from the tenant context, exactly the columns simple-history writes) for each row the insert
   returned, i.e. only for readings really inserted. (simple-history's ``bulk_create_with_history(
   ignore_conflicts=True)`` cannot tell inserted rows from skipped ones without a query per row and would
   write history for rows that already existed; and building 20,000 model instances and bind parameters for
   a 10,000-reading batch made ingestion ten times slower than COPY: see bench/README.md.)

A batch is therefore a handful of statements whatever its size.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import psycopg
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from psycopg import sql
from rest_framework.exceptions import ValidationError

from apps.events import types as event_types
from apps.events.services import event_record
from apps.organizations import context
from apps.organizations.clock import latest_allowed
from apps.organizations.ids import uuid7_many
from apps.organizations.input_checks import DATETIME_RANGE_MESSAGE, in_utc
from apps.patients.models import Patient

from . import adapters, catalog
from .models import SOURCE_READING_UNIQUE, BiomarkerLog

MAX_BATCH = 10_000
# Looked up once per reading: a set, not the enum's `values` list rebuilt on every access.
SOURCES = frozenset(catalog.Source.values)
EARLIEST_CAPTURE = datetime(1990, 1, 1, tzinfo=UTC)
MAX_PAYLOAD_CHARS = 20_000

READING_FIELDS = frozenset(
    {
        "patient_id",
        "source",
        "source_reading_id",
        "metric_type",
        "value_numeric",
        "value_text",
        "unit",
        "captured_at",
        "raw_payload",
    }
)


@dataclass
class IngestResult:
    received: int
    created: int
    duplicates: int
    corrected: int = 0


class _RowErrors:
    """Errors of one batch, keyed `<row name>.<field>`: `readings[3].unit`."""

    def __init__(self, row_names: Sequence[str] | None) -> None:
        self.row_names = row_names
        self.errors: dict[str, list[str]] = {}

    def add(self, index: int, field_name: str, message: str) -> None:
        row = self.row_names[index] if self.row_names is not None else f"readings[{index}]"
        self.errors.setdefault(f"{row}.{field_name}", []).append(message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


def _parse_timestamp(value: Any, latest: datetime) -> tuple[datetime | None, str | None]:
    if isinstance(value, datetime):
        parsed: datetime | None = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            try:
                parsed = parse_datetime(value)  # the few forms Python's parser does not take
            except ValueError:
                parsed = None
    else:
        return None, "Must be an ISO 8601 timestamp string."
    if parsed is None:
        return None, "Must be an ISO 8601 timestamp string."
    if parsed.utcoffset() is None:
        return None, "Must include a timezone offset (e.g. 'Z' or '+02:00')."
    if parsed.tzinfo is not UTC:
        parsed = in_utc(parsed)
        if parsed is None:
            return None, DATETIME_RANGE_MESSAGE
    if parsed > latest:
        return None, "Must not be in the future."
    if parsed < EARLIEST_CAPTURE:
        return None, "Must not be before 1990."
    return parsed, None


def _finite_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class ValidatedReading(NamedTuple):
    """A reading that passed validation, as it will be stored: `BiomarkerLog`'s columns but the id, in the
    staging table's order, with the raw payload as JSON text. A plain tuple, not a model instance: a batch
    builds 10,000 of them and sends them to COPY as they are."""

    patient_id: uuid.UUID
    source: str
    source_reading_id: str
    metric_type: str
    value_numeric: float | None
    value_text: str | None
    unit: str
    raw_payload: str
    captured_at: datetime
    data_classification: str


def _patient_uuid(value: Any, parsed: dict[str, uuid.UUID]) -> uuid.UUID | None:
    """`value` as a UUID, or None; `parsed` remembers the batch's strings (a batch names few patients)."""
    text = value if isinstance(value, str) else str(value)
    patient_id = parsed.get(text)
    if patient_id is None:
        try:
            patient_id = parsed[text] = uuid.UUID(text)
        except ValueError:
            return None
    return patient_id


def _validate_row(
    index: int,
    row: Any,
    errors: _RowErrors,
    may_write_phi: bool,
    latest: datetime,
    patient_ids: dict[str, uuid.UUID],
) -> ValidatedReading | None:
    if not isinstance(row, Mapping):
        errors.add(index, "non_field_errors", "Each reading must be a JSON object.")
        return None
    errors_before = len(errors.errors)
    if not READING_FIELDS.issuperset(row):
        for unknown in sorted(set(row) - READING_FIELDS):
            errors.add(index, str(unknown), "Unknown field.")

    patient_id = _patient_uuid(row.get("patient_id"), patient_ids)
    if patient_id is None:
        errors.add(index, "patient_id", "Must be a patient UUID.")

    source = row.get("source")
    if source not in SOURCES:
        errors.add(index, "source", f"Unknown source; use one of: {', '.join(catalog.Source.values)}.")

    reading_id = row.get("source_reading_id")
    if not isinstance(reading_id, str) or not reading_id.strip() or len(reading_id) > 200:
        errors.add(index, "source_reading_id", "Must be a non-empty string of at most 200 characters.")

    metric_type = row.get("metric_type")
    metric = catalog.metric(metric_type) if isinstance(metric_type, str) else None
    if metric is None:
        errors.add(index, "metric_type", "Unknown metric type.")
    elif source in SOURCES and source not in metric.sources:
        errors.add(index, "metric_type", "This source does not report this metric type.")
    elif metric.is_phi and not may_write_phi:
        errors.add(index, "metric_type", "This metric is clinical PHI; the caller has no PHI access.")

    captured_at, timestamp_error = _parse_timestamp(row.get("captured_at"), latest)
    if timestamp_error:
        errors.add(index, "captured_at", timestamp_error)

    raw_payload = row.get("raw_payload")
    payload_json = "{}"
    if raw_payload is not None and not isinstance(raw_payload, dict):
        errors.add(index, "raw_payload", "Must be a JSON object.")
    elif raw_payload:
        payload_json = json.dumps(raw_payload, ensure_ascii=False)  # the limit counts characters, not escapes
        if len(payload_json) > MAX_PAYLOAD_CHARS:
            errors.add(index, "raw_payload", f"Must be at most {MAX_PAYLOAD_CHARS} characters of JSON.")

    value_numeric: float | None = None
    value_text: str | None = None
    if metric is not None:
        if row.get("unit") != metric.unit:
            errors.add(index, "unit", f"Must be '{metric.unit}' for this metric type.")
        if metric.is_numeric:
            if row.get("value_text") not in (None, ""):
                errors.add(index, "value_text", "Must be empty for a numeric metric.")
            value_numeric = _finite_number(row.get("value_numeric"))
            if value_numeric is None:
                errors.add(index, "value_numeric", "Must be a finite number.")
            elif (metric.allowed_min is not None and value_numeric < metric.allowed_min) or (
                metric.allowed_max is not None and value_numeric > metric.allowed_max
            ):
                errors.add(
                    index,
                    "value_numeric",
                    f"Must be between {metric.allowed_min:g} and {metric.allowed_max:g} {metric.unit}.",
                )
        else:
            if row.get("value_numeric") is not None:
                errors.add(index, "value_numeric", "Must be empty for a categorical metric.")
            value_text = row.get("value_text")
            if value_text not in metric.choices:
                errors.add(index, "value_text", f"Must be one of: {', '.join(metric.choices)}.")

    if len(errors.errors) > errors_before or metric is None or patient_id is None or captured_at is None:
        return None
    return ValidatedReading(
        patient_id,
        str(source),
        str(reading_id),
        metric.code,
        value_numeric,
        value_text,
        metric.unit,
        payload_json,
        captured_at,
        str(metric.classification),
    )


def biomarker_readings_validate(
    *, readings: Sequence[Any], row_names: Sequence[str] | None = None
) -> list[ValidatedReading]:
    """Validate a batch without storing it; raise a ValidationError naming every bad row and field."""
    errors = _RowErrors(row_names)
    if len(readings) > MAX_BATCH:
        raise ValidationError({"readings": [f"Send at most {MAX_BATCH} readings per batch."]})
    if not readings:
        raise ValidationError({"readings": ["Send at least one reading."]})
    ctx = context.current()
    may_write_phi = ctx is not None and ctx.can_read_phi
    latest = latest_allowed(device_reading=True)
    logs: list[ValidatedReading | None] = []
    seen: dict[tuple[str, str], int] = {}
    patient_ids: dict[str, uuid.UUID] = {}
    for index, row in enumerate(readings):
        log = _validate_row(index, row, errors, may_write_phi, latest, patient_ids)
        if log is not None:
            key = (log.source, log.source_reading_id)
            if key in seen:
                errors.add(index, "source_reading_id", f"Repeats the reading of row {seen[key]} in this batch.")
                log = None
            else:
                seen[key] = index
        logs.append(log)

    # One query for every patient of the batch; another organization's patient is as unknown as a missing one.
    wanted = {log.patient_id for log in logs if log is not None}
    known = set(Patient.objects.active().filter(id__in=wanted).values_list("id", flat=True))
    for index, log in enumerate(logs):
        if log is not None and log.patient_id not in known:
            errors.add(index, "patient_id", "Unknown patient.")
    errors.raise_if_any()
    return [log for log in logs if log is not None]


# The batch is staged with binary COPY in a session-private table and moved with one INSERT ... SELECT: no
# per-row bind parameters, no ORM instances for the history. RLS applies to both inserts as for any write.
# Each staged row is a new time-ordered id followed by the validated reading as it is (the payload is JSON
# text, cast when stored).
STAGE_TYPES = {
    "id": "uuid",
    "patient_id": "uuid",
    "source": "text",
    "source_reading_id": "text",
    "metric_type": "text",
    "value_numeric": "float8",
    "value_text": "text",
    "unit": "text",
    "raw_payload": "text",
    "captured_at": "timestamptz",
    "data_classification": "text",
}
_STAGE_COLUMNS = sql.SQL(", ").join(
    sql.SQL("{} {}").format(sql.Identifier(column), sql.SQL(type_)) for column, type_ in STAGE_TYPES.items()
)
_STAGE_SQL = (
    sql.SQL(
        "CREATE TEMP TABLE IF NOT EXISTS biomarker_ingest_rows ({}) ON COMMIT DELETE ROWS;"
        " TRUNCATE biomarker_ingest_rows"
    )
    .format(_STAGE_COLUMNS)
    .as_string()
)
_COPY_SQL = sql.SQL("COPY biomarker_ingest_rows ({}) FROM STDIN (FORMAT BINARY)").format(
    sql.SQL(", ").join(map(sql.Identifier, STAGE_TYPES))
)
# Conflicts on (organization, source, source_reading_id) are skipped; only the rows really inserted get a
# history row ('+', with the acting user or API key, as simple-history writes them).
_STORE_SQL_TEMPLATE = """
WITH inserted AS (
    INSERT INTO biomarkers_biomarkerlog (
        id, organization_id, created_at, updated_at, data_classification, patient_id, source, source_reading_id,
        metric_type, value_numeric, value_text, unit, raw_payload, captured_at)
    SELECT id, %(organization)s, %(now)s, %(now)s, data_classification, patient_id, source, source_reading_id,
           metric_type, value_numeric, value_text, unit, raw_payload::jsonb, captured_at
    FROM biomarker_ingest_rows
    {on_conflict}
    RETURNING *
), audited AS (
    INSERT INTO biomarkers_historicalbiomarkerlog (
        id, organization_id, created_at, updated_at, data_classification, patient_id, source, source_reading_id,
        metric_type, value_numeric, value_text, unit, raw_payload, captured_at, voided_at, history_date,
        history_change_reason, history_type, history_user_id, history_api_key_id)
    SELECT id, organization_id, created_at, updated_at, data_classification, patient_id, source,
           source_reading_id, metric_type, value_numeric, value_text, unit, raw_payload, captured_at, voided_at,
           %(now)s, NULL, '+', %(user)s, %(api_key)s
    FROM inserted
    RETURNING 1
)
SELECT count(*) FROM audited
"""
# A batch is almost always new: a plain insert checks the unique key once per row. Only when it meets a reading
# already stored (a retried batch, or another request that just stored the same readings) is the batch stored
# again, skipping those: `ON CONFLICT DO NOTHING` costs a speculative insertion per row (a quarter more time
# for the readings) that a new batch does not need.
_STORE_NEW_SQL = _STORE_SQL_TEMPLATE.format(on_conflict="")
_STORE_SKIPPING_SQL = _STORE_SQL_TEMPLATE.format(on_conflict="ON CONFLICT DO NOTHING")

# A staged reading whose (source, id) is stored for another patient or metric: a partner's mistake, refused.
_MISMATCHED_SQL = """
SELECT s.source, s.source_reading_id
FROM biomarker_ingest_rows s
JOIN biomarkers_biomarkerlog b
  ON b.organization_id = %(organization)s AND b.source = s.source AND b.source_reading_id = s.source_reading_id
WHERE b.patient_id <> s.patient_id OR b.metric_type <> s.metric_type
"""
# A staged reading whose (source, id) is stored, not voided, with another value or time corrects it: the row
# takes the new value, time and native record; its history gets a '~' row (the old value stays in the rows
# before it). Rows are locked by the update, so two corrections of one reading apply one after the other.
CORRECTION_REASON = "Corrected by the source"
_CORRECT_SQL = """
WITH corrected AS (
    UPDATE biomarkers_biomarkerlog b
    SET value_numeric = s.value_numeric, value_text = s.value_text, captured_at = s.captured_at,
        raw_payload = s.raw_payload::jsonb, updated_at = %(now)s
    FROM biomarker_ingest_rows s
    WHERE b.organization_id = %(organization)s AND b.source = s.source AND b.source_reading_id = s.source_reading_id
      AND b.patient_id = s.patient_id AND b.metric_type = s.metric_type AND b.voided_at IS NULL
      AND (b.value_numeric IS DISTINCT FROM s.value_numeric OR b.value_text IS DISTINCT FROM s.value_text
           OR b.captured_at <> s.captured_at)
    RETURNING b.*
), audited AS (
    INSERT INTO biomarkers_historicalbiomarkerlog (
        id, organization_id, created_at, updated_at, data_classification, patient_id, source, source_reading_id,
        metric_type, value_numeric, value_text, unit, raw_payload, captured_at, voided_at, history_date,
        history_change_reason, history_type, history_user_id, history_api_key_id)
    SELECT id, organization_id, created_at, updated_at, data_classification, patient_id, source,
           source_reading_id, metric_type, value_numeric, value_text, unit, raw_payload, captured_at, voided_at,
           %(now)s, %(reason)s, '~', %(user)s, %(api_key)s
    FROM corrected
)
SELECT id, patient_id, metric_type, data_classification FROM corrected ORDER BY id
"""


class Corrected(NamedTuple):
    id: uuid.UUID
    patient_id: uuid.UUID
    metric_type: str
    data_classification: str


@dataclass
class Stored:
    created: int
    corrected: list[Corrected]


def _refuse_mismatched(cursor: Any, params: dict[str, Any], logs: list[ValidatedReading], errors: _RowErrors) -> None:
    cursor.execute(_MISMATCHED_SQL, params)
    mismatched = set(cursor.fetchall())
    if not mismatched:
        return
    for index, log in enumerate(logs):
        if (log.source, log.source_reading_id) in mismatched:
            errors.add(index, "source_reading_id", "Already stored for another patient or metric type.")
    errors.raise_if_any()


def _store(logs: list[ValidatedReading], errors: _RowErrors) -> Stored:
    """Insert the validated readings and their history rows, correcting the known ones whose value changed."""
    organization_id = context.current_organization_id()
    if organization_id is None:
        raise RuntimeError("Readings are stored inside a tenant context.")
    with connection.cursor() as cursor:
        cursor.execute(_STAGE_SQL)
        with cursor.cursor.copy(_COPY_SQL) as copy:
            copy.set_types(list(STAGE_TYPES.values()))
            for reading_id, log in zip(uuid7_many(len(logs)), logs, strict=True):
                copy.write_row((reading_id, *log))
        params: dict[str, Any] = {
            "organization": organization_id,
            "now": timezone.now(),
            "user": context.current_user_id(),
            "api_key": context.current_api_key_id(),
            "reason": CORRECTION_REASON,
        }
        corrected: list[Corrected] = []
        try:
            with transaction.atomic():
                cursor.execute(_STORE_NEW_SQL, params)
        except IntegrityError as error:
            cause = error.__cause__
            if (
                not isinstance(cause, psycopg.errors.UniqueViolation)
                or cause.diag.constraint_name != SOURCE_READING_UNIQUE
            ):
                raise
            _refuse_mismatched(cursor, params, logs, errors)
            cursor.execute(_CORRECT_SQL, params)
            corrected = [Corrected(*row) for row in cursor.fetchall()]
            cursor.execute(_STORE_SKIPPING_SQL, params)
        (created,) = cursor.fetchone()
        return Stored(created=int(created), corrected=corrected)


def _batch_events(
    event_type: str, batch_id: uuid.UUID, rows: Sequence[ValidatedReading | Corrected], with_ids: bool = False
) -> None:
    """The outbox events of a stored (or corrected) batch: one per classification it held, so a caller that may
    not read PHI still learns of the wellness readings. Ids, metric types and counts only, never a value."""
    by_classification: dict[str, list[ValidatedReading | Corrected]] = {}
    for row in rows:
        by_classification.setdefault(row.data_classification, []).append(row)
    for classification, group in sorted(by_classification.items()):
        patient_ids = sorted({row.patient_id for row in group}, key=str)
        data: dict[str, Any] = {
            "patient_ids": [str(patient_id) for patient_id in patient_ids],
            "metric_types": sorted({row.metric_type for row in group}),
            "readings": len(group),
        }
        if with_ids:
            data["reading_ids"] = [str(row.id) for row in group if isinstance(row, Corrected)]
        event_record(
            event_type=event_type,
            subject_id=batch_id,
            patient_id=patient_ids[0] if len(patient_ids) == 1 else None,
            data_classification=classification,
            data=data,
        )


def biomarker_readings_ingest(*, readings: Sequence[Any], row_names: Sequence[str] | None = None) -> IngestResult:
    """Store a batch of readings all-or-nothing. A reading already stored (same source and id) is skipped when
    unchanged and corrected when its value or time changed; one stored for another patient or metric is refused."""
    logs = biomarker_readings_validate(readings=readings, row_names=row_names)
    with transaction.atomic():
        stored = _store(logs, _RowErrors(row_names))
        batch_id = uuid.uuid4()
        if stored.created:
            _batch_events(event_types.BIOMARKER_BATCH_STORED, batch_id, logs)
        if stored.corrected:
            _batch_events(event_types.BIOMARKER_BATCH_CORRECTED, batch_id, stored.corrected, with_ids=True)
    corrected = len(stored.corrected)
    return IngestResult(
        received=len(logs),
        created=stored.created,
        duplicates=len(logs) - stored.created - corrected,
        corrected=corrected,
    )


def biomarker_records_import(
    *, format_name: str, records: Sequence[Any], patient_id: uuid.UUID, first_index: int = 0
) -> IngestResult:
    """Map one patient's native partner records through their adapter and ingest them all-or-nothing.

    Errors name the record (`records[3].average_hrv`), counting from `first_index` (for files sent in chunks).
    """
    if format_name not in adapters.ADAPTERS:
        raise ValidationError({"format": [f"Unknown format; use one of: {', '.join(adapters.ADAPTERS)}."]})
    if not records or len(records) > MAX_BATCH:
        raise ValidationError({"records": [f"Send between 1 and {MAX_BATCH} records per batch."]})
    adapted = adapters.adapt(
        format_name=format_name, records=records, patient_id=str(patient_id), first_index=first_index
    )
    if adapted.errors:
        raise ValidationError(adapted.errors)
    if len(adapted.readings) > MAX_BATCH:
        raise ValidationError({"records": [f"These records make more than {MAX_BATCH} readings; send fewer."]})
    return biomarker_readings_ingest(readings=adapted.readings, row_names=adapted.row_names)


VOID_REASON_MAX = 100  # the history's change reason column


class ReadingAlreadyVoidedError(Exception):
    """The reading was voided before; voiding is done once."""


def biomarker_reading_void(*, reading: BiomarkerLog, reason: str) -> BiomarkerLog:
    """Take a reading out of every result (series, buckets, latest, out of reference), keeping it and its history:
    the history's '~' row records when, by whom and why (`reason`). Its (source, id) stays taken, so a retried
    batch that still holds the reading does not bring it back."""
    with transaction.atomic():
        locked = BiomarkerLog.objects.select_for_update().get(pk=reading.pk)
        if locked.voided_at is not None:
            raise ReadingAlreadyVoidedError
        locked.voided_at = timezone.now()
        locked._change_reason = reason  # simple-history's per-save reason
        locked.save(update_fields=["voided_at", "updated_at"])
        event_record(
            event_type=event_types.BIOMARKER_READING_VOIDED,
            subject_id=locked.pk,
            patient_id=locked.patient_id,
            data_classification=locked.data_classification,
            data={
                "metric_type": locked.metric_type,
                "source": locked.source,
                "source_reading_id": locked.source_reading_id,
            },
        )
    return locked
