"""Reads for the timeline and assessments. Row-level security decides which rows (PHI or not) each caller sees."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Case, Count, Q, QuerySet, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.patients.models import Patient

from ..models import AssessmentDefinition, AssessmentFlag, AssessmentResponse, HealthEvent
from .vocabulary import EventType


def health_event_list(
    *,
    patient: Patient,
    types: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    include_superseded: bool = False,
) -> QuerySet[HealthEvent]:
    """A patient's timeline, newest first, optionally narrowed to event types and a time range."""
    events = HealthEvent.objects.for_current_organization().filter(patient=patient)
    if not include_superseded:
        events = events.current()
    if types:
        events = events.filter(event_type__in=types)
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    if until is not None:
        events = events.filter(occurred_at__lt=until)
    return events.newest_first()


@dataclass(frozen=True)
class Page:
    events: list[HealthEvent]
    next_cursor: str | None


def encode_cursor(event: HealthEvent) -> str:
    raw = json.dumps([event.occurred_at.isoformat(), str(event.pk)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (occurred_at, id) position a cursor points after; a ValidationError on `cursor` if it is not ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        occurred, pk = json.loads(raw)
        position = datetime.fromisoformat(occurred), uuid.UUID(pk)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise ValidationError({"cursor": "Invalid cursor."}) from None
    if timezone.is_naive(position[0]):
        raise ValidationError({"cursor": "Invalid cursor."})
    return position


def health_events_after(events: QuerySet[HealthEvent], cursor: str | None) -> QuerySet[HealthEvent]:
    """The events of a newest-first timeline that come after `cursor` (all of them without one).

    Keyset pagination on (occurred_at, id): events inserted while a client pages through, even with the same
    timestamp, never shift a page or repeat a row. The `occurred_at <=` bound is an index condition; the OR
    only separates ties.
    """
    if not cursor:
        return events
    occurred_at, pk = decode_cursor(cursor)
    return events.filter(occurred_at__lte=occurred_at).filter(Q(occurred_at__lt=occurred_at) | Q(id__lt=pk))


def health_event_page(events: QuerySet[HealthEvent], *, cursor: str | None, size: int) -> Page:
    """One page of a newest-first timeline after `cursor`, with the cursor of the next page if there is one."""
    rows = list(health_events_after(events, cursor)[: size + 1])
    next_cursor = encode_cursor(rows[size - 1]) if len(rows) > size else None
    return Page(events=rows[:size], next_cursor=next_cursor)


def health_event_daily_summary(*, patient: Patient, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Per UTC day in [since, until): event counts per type and the day's latest mood (with its classification: a
    mood can be recorded as CLINICAL_PHI), newest day first."""
    events = health_event_list(patient=patient, since=since, until=until).order_by()
    days = events.annotate(day=TruncDate("occurred_at", tzinfo=UTC))
    counts = days.values("day", "event_type").annotate(n=Count("id")).order_by()
    moods = (
        days.filter(event_type=EventType.MOOD)
        .order_by("day", "-occurred_at", "-id")
        .distinct("day")
        .values(
            "day",
            "occurred_at",
            "data_classification",
            mood=KT("event_data__mood"),
            confidence=KT("event_data__confidence"),
        )
    )
    summary: dict[date, dict[str, Any]] = {}
    for row in counts:
        entry = summary.setdefault(row["day"], {"date": row["day"], "counts": {}, "latest_mood": None})
        entry["counts"][row["event_type"]] = row["n"]
    for row in moods:
        summary[row["day"]]["latest_mood"] = {
            "mood": row["mood"],
            "confidence": int(row["confidence"]) if row["confidence"] is not None else None,
            "occurred_at": row["occurred_at"],
            "data_classification": row["data_classification"],
        }
    return [summary[day] for day in sorted(summary, reverse=True)]


# Seed 001's adherence query, per medication and overall in one pass (GROUPING SETS). As-needed doses have
# no schedule to keep, so only scheduled doses and injections count. Corrected events count once, as corrected.
ADHERENCE_SQL = """
SELECT e.event_data ->> 'medication_id' AS medication_id,
       max(e.event_data ->> 'medication_name') AS medication_name,
       count(*) FILTER (WHERE e.event_data ->> 'status' = 'taken') AS taken,
       count(*) AS total,
       round(100.0 * count(*) FILTER (WHERE e.event_data ->> 'status' = 'taken') / NULLIF(count(*), 0), 1) AS rate,
       GROUPING(e.event_data ->> 'medication_id') = 1 AS is_overall
FROM clinical_healthevent e
WHERE e.patient_id = %(patient)s
  AND e.event_type = 'medication'
  AND e.event_subtype IN ('scheduled', 'injection')
  AND e.occurred_at >= %(start)s
  AND e.occurred_at < %(end)s
  AND NOT EXISTS (SELECT 1 FROM clinical_healthevent c WHERE c.supersedes_id = e.id)
GROUP BY GROUPING SETS ((e.event_data ->> 'medication_id'), ())
ORDER BY is_overall DESC, medication_name, medication_id
"""


@dataclass(frozen=True)
class Adherence:
    start: datetime
    end: datetime
    days: int
    taken: int
    total: int
    rate: float | None
    medications: list[dict[str, Any]]


def medication_adherence(*, patient: Patient, days: int = 7, end: datetime | None = None) -> Adherence:
    """Taken / scheduled doses over the `days` before `end` (default now), per medication and overall.

    The rate is a percentage with one decimal, or None when nothing was scheduled in the window.
    """
    end = end or timezone.now()
    start = end - timedelta(days=days)
    with connection.cursor() as cursor:
        cursor.execute(ADHERENCE_SQL, {"patient": patient.pk, "start": start, "end": end})
        rows = cursor.fetchall()
    overall = rows[0]
    medications = [
        {
            "medication_id": medication_id,
            "medication_name": name,
            "taken": taken,
            "total": total,
            "rate": float(rate) if rate is not None else None,
        }
        for medication_id, name, taken, total, rate, _ in rows[1:]
    ]
    return Adherence(
        start=start,
        end=end,
        days=days,
        taken=overall[2],
        total=overall[3],
        rate=float(overall[4]) if overall[4] is not None else None,
        medications=medications,
    )


def assessment_definition_list() -> QuerySet[AssessmentDefinition]:
    """The organization's own instruments."""
    return AssessmentDefinition.objects.for_current_organization().order_by("name")


def assessment_response_list(*, patient: Patient) -> QuerySet[AssessmentResponse]:
    """A patient's completed assessments, newest first."""
    return (
        AssessmentResponse.objects.for_current_organization().filter(patient=patient).order_by("-completed_at", "-id")
    )


def assessment_flag_open_list(*, patient: Patient | None = None) -> QuerySet[AssessmentFlag]:
    """Unreviewed flags, oldest first (who has waited longest); for one patient if given."""
    flags = AssessmentFlag.objects.for_current_organization().open()
    flags = flags.select_related("patient", "response")
    if patient is not None:
        flags = flags.filter(patient=patient)
    return flags.order_by("raised_at", "id")


def assessment_flags_to_review() -> QuerySet[AssessmentFlag]:
    """Unreviewed flags for a work list: thoughts of self-harm (PHQ-9 item 9) first, then the newest first."""
    item9_first = Case(When(reason=AssessmentFlag.Reason.PHQ9_ITEM9, then=Value(0)), default=Value(1))
    flags = AssessmentFlag.objects.for_current_organization().open().select_related("patient", "response")
    return flags.order_by(item9_first, "-raised_at", "-id")


def assessment_flag_list() -> QuerySet[AssessmentFlag]:
    """All of the organization's flags, reviewed or not."""
    return AssessmentFlag.objects.for_current_organization()
