from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.organizations.access import object_or_404
from apps.organizations.idempotency import idempotent_post
from apps.organizations.parsers import BatchJSONParser
from apps.organizations.rendering import OutputSerializer
from apps.organizations.time_zones import organization_zone, validate_time_zone, zone_named
from apps.patients import phi_reads
from apps.patients.models import Patient, PHIAccessLog
from config.openapi import Error, body_variants, error_response

from . import adapters, catalog, selectors, services
from .models import BiomarkerLog
from .permissions import READING
from .record_formats import RECORD_FORMATS

MAX_RAW_PAGE = 5000


# --- Output shapes -------------------------------------------------------------------------------------------


class ReadingOutput(phi_reads.MarksReads, OutputSerializer):
    """Each reading rendered that is classified CLINICAL_PHI is a logged read (series, latest, out of range)."""

    phi_record_type = PHIAccessLog.RecordType.BIOMARKER_READING
    phi_rows_only = True

    id = serializers.UUIDField()
    patient_id = serializers.UUIDField()
    source = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.source
    source_reading_id = serializers.CharField()
    metric_type = serializers.CharField()
    value_numeric = serializers.FloatField(allow_null=True)
    value_text = serializers.CharField(allow_null=True)
    unit = serializers.CharField()
    captured_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    data_classification = serializers.CharField()
    out_of_reference = serializers.SerializerMethodField()

    def get_out_of_reference(self, log: selectors.ReadingRow) -> bool:
        metric = catalog.metric(log.metric_type)
        return metric is not None and metric.out_of_reference(log.value_numeric, log.value_text)


class BucketOutput(OutputSerializer):
    start = serializers.DateTimeField(help_text="The bucket's first instant: a local hour, midnight or Monday in `tz`.")
    count = serializers.IntegerField()
    min = serializers.FloatField()
    max = serializers.FloatField()
    mean = serializers.FloatField()
    sum = serializers.FloatField(help_text="The values added up (daily steps, minutes asleep).")


class SeriesOutput(serializers.Serializer):
    metric_type = serializers.CharField()
    bucket = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    tz = serializers.CharField(help_text="The time zone of the buckets (and of the times shown): the clinic's or `tz`.")
    points = ReadingOutput(many=True, required=False, help_text="raw points (bucket=raw)")
    next_cursor = serializers.CharField(allow_null=True, required=False)
    buckets = BucketOutput(many=True, required=False, help_text="hour, day or week buckets")


class IngestOutput(serializers.Serializer):
    received = serializers.IntegerField()
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="Readings already stored with the same value and time: skipped.")
    corrected = serializers.IntegerField(
        help_text="Readings already stored (same source and id) that took a new value or time; the old value "
        "stays in the reading's history."
    )


def _ingest_response(result: services.IngestResult) -> Response:
    code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    return Response(IngestOutput(result).data, status=code)


# --- Ingestion ----------------------------------------------------------------------------------------------


class BatchRowsField(serializers.ListField):
    """A batch's rows: a JSON array within the size limits, each row passed on as sent. The service checks
    every row and names the bad ones (`readings[3].unit`); running DRF's no-op child field over 10,000 rows
    first only cost time."""

    def run_child_validation(self, data: list[Any]) -> list[Any]:
        return list(data)


class ReadingInput(serializers.Serializer):
    """One reading as `POST /biomarkers/readings/` takes it (documentation: the service checks each row)."""

    patient_id = serializers.UUIDField()
    source = serializers.ChoiceField(choices=catalog.Source.choices)  # type: ignore[assignment]
    source_reading_id = serializers.CharField(
        max_length=200, help_text="The source's id of the reading: with `source`, what makes a retry safe."
    )
    metric_type = serializers.ChoiceField(choices=sorted(catalog.METRICS), help_text="See /biomarkers/metrics/.")
    value_numeric = serializers.FloatField(
        required=False, allow_null=True, help_text="For a numeric metric, within its allowed range."
    )
    value_text = serializers.CharField(
        required=False, allow_null=True, help_text="For a categorical metric: one of its choices."
    )
    unit = serializers.CharField(help_text="The metric's unit in the catalog.")
    captured_at = serializers.DateTimeField(help_text="With a UTC offset; not in the future.")
    raw_payload = serializers.DictField(
        required=False,
        help_text=f"The source's record, kept as sent (at most {services.MAX_PAYLOAD_CHARS} characters).",
    )


@extend_schema_field(ReadingInput(many=True))
class ReadingRowsField(BatchRowsField):
    """A batch of readings: typed in the schema, checked row by row by the service."""


READINGS_EXAMPLE = OpenApiExample(
    "Two readings",
    request_only=True,
    value={
        "readings": [
            {
                "patient_id": "3f0c6a53-1d2b-4c59-9a64-0b7f1b2f8e11",
                "source": "oura_api",
                "source_reading_id": "sleep:2f1c:average_hrv",
                "metric_type": "hrv_rmssd",
                "value_numeric": 48.5,
                "unit": "ms",
                "captured_at": "2024-03-10T07:12:00Z",
            },
            {
                "patient_id": "3f0c6a53-1d2b-4c59-9a64-0b7f1b2f8e11",
                "source": "apple_health_kit",
                "source_reading_id": "9B2E6C1A-6F1D-4C1B-9E0A-3C5D7F8A9B10",
                "metric_type": "steps",
                "value_numeric": 8123,
                "unit": "count",
                "captured_at": "2024-03-10T23:59:00Z",
            },
        ]
    },
)


class ReadingBulkCreateApi(APIView):
    """Up to 10,000 readings, all-or-nothing. A reading already stored (same source and `source_reading_id`) is
    skipped when unchanged, and corrected when its value or time changed (the old value stays in its history);
    one stored for another patient or metric type is refused, naming the row. A voided reading stays voided."""

    resource = READING
    parser_classes = [BatchJSONParser]

    class Input(serializers.Serializer):
        class Meta:
            ref_name = "ReadingBatchInput"

        # Rows are checked by the service (fast, per row, naming row and field), not by a nested serializer.
        readings = ReadingRowsField(allow_empty=False, max_length=services.MAX_BATCH)

    @extend_schema(
        request=Input,
        responses={201: IngestOutput, 200: IngestOutput, 413: error_response(413)},
        summary="Ingest readings",
        description=f"Up to {services.MAX_BATCH} readings, all or nothing: a bad row is a 400 naming it "
        "(`readings[3].unit`) and nothing is stored. A reading already stored (same `source` and "
        "`source_reading_id`) is skipped when unchanged (a duplicate) and corrected when its value or time changed "
        "(the old value stays in its history); one stored for another patient or metric type is refused. 201 when "
        "something was created, 200 when nothing was (duplicates and corrections only). A voided reading stays "
        "voided.",
        examples=[READINGS_EXAMPLE],
    )
    @idempotent_post
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        return _ingest_response(services.biomarker_readings_ingest(readings=data.validated_data["readings"]))


class RecordImportApi(APIView):
    """A partner's native records for one patient, mapped by the named adapter, then ingested as above."""

    resource = READING
    parser_classes = [BatchJSONParser]

    class Input(serializers.Serializer):
        class Meta:
            ref_name = "RecordImportInput"

        format = serializers.ChoiceField(choices=sorted(adapters.ADAPTERS))
        patient_id = serializers.UUIDField()
        records = BatchRowsField(allow_empty=False, max_length=services.MAX_BATCH)

    @extend_schema(
        request=body_variants(
            Input,
            name="RecordImportBody",
            field="format",
            variants={
                name: {"records": serializers.ListField(child=record(), min_length=1, max_length=services.MAX_BATCH)}
                for name, record in RECORD_FORMATS.items()
            },
        ),
        responses={201: IngestOutput, 200: IngestOutput, 413: error_response(413)},
        summary="Import native records",
        description="One patient's records in a partner's own format (`format` says which, and each format's "
        "record is documented): each is mapped to catalog readings, then stored as by `POST /biomarkers/readings/` "
        "(all or nothing, duplicates skipped, corrections applied). A bad record is a 400 naming it "
        "(`records[2].score`).",
        examples=[
            OpenApiExample(
                "Oura readiness",
                request_only=True,
                value={
                    "format": "oura_daily_readiness",
                    "patient_id": "3f0c6a53-1d2b-4c59-9a64-0b7f1b2f8e11",
                    "records": [
                        {
                            "id": "8f2d",
                            "day": "2024-03-10",
                            "timestamp": "2024-03-10T07:00:00+00:00",
                            "score": 82,
                            "temperature_deviation": -0.1,
                        }
                    ],
                },
            )
        ],
    )
    @idempotent_post
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.biomarker_records_import(
            format_name=data.validated_data["format"],
            records=data.validated_data["records"],
            patient_id=data.validated_data["patient_id"],
        )
        return _ingest_response(result)


# --- Catalog and queries ------------------------------------------------------------------------------------


class MetricOutput(OutputSerializer):
    code = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    unit = serializers.CharField()
    kind = serializers.CharField()
    classification = serializers.CharField()
    sources = serializers.ListField(child=serializers.CharField())
    allowed_min = serializers.FloatField(allow_null=True)
    allowed_max = serializers.FloatField(allow_null=True)
    reference_low = serializers.FloatField(allow_null=True)
    reference_high = serializers.FloatField(allow_null=True)
    choices = serializers.ListField(child=serializers.CharField())


class MetricListApi(APIView):
    resource = READING

    @extend_schema(responses=MetricOutput(many=True), summary="The metric catalog")
    def get(self, request: Request) -> Response:
        return Response(MetricOutput(list(catalog.METRICS.values()), many=True).data)


DEFAULT_PERIOD = timedelta(days=30)


class TimeZoneField(serializers.CharField):
    """An IANA time zone name (`America/Chicago`); absent, the clinic's zone."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault(
            "help_text", "An IANA time zone name (e.g. `America/Chicago`) for buckets; default: the clinic's zone."
        )
        super().__init__(validators=[validate_time_zone], **kwargs)


class PeriodInput(serializers.Serializer):
    captured_since = serializers.DateTimeField(
        required=False, source="start", help_text=f"Captured at or after (default: {DEFAULT_PERIOD.days} days before)."
    )
    captured_before = serializers.DateTimeField(
        required=False, source="end", help_text="Captured before (default: now)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs.setdefault("end", timezone.now())
        if "start" not in attrs:
            try:
                attrs["start"] = attrs["end"] - DEFAULT_PERIOD
            except OverflowError:  # an end in the first days of year 1
                raise ValidationError(
                    {
                        "captured_before": [
                            f"Give captured_since: {DEFAULT_PERIOD.days} days before captured_before is out of range."
                        ]
                    }
                ) from None
        if attrs["start"] >= attrs["end"]:
            raise ValidationError({"captured_since": ["Must be before captured_before."]})
        return attrs


READING_RECORD = PHIAccessLog.RecordType.BIOMARKER_READING


class SeriesApi(APIView):
    """One patient's metric over [captured_since, captured_before): raw points (cursor-paginated) or hour/day/week
    buckets."""

    resource = READING

    class Input(PeriodInput):
        metric_type = serializers.ChoiceField(choices=sorted(catalog.METRICS))
        bucket = serializers.ChoiceField(choices=["raw", *selectors.BUCKETS], default="raw")
        cursor = serializers.CharField(required=False, max_length=200)
        limit = serializers.IntegerField(min_value=1, max_value=MAX_RAW_PAGE, default=500)
        tz = TimeZoneField()

    @extend_schema(
        parameters=[Input],
        responses=SeriesOutput,
        summary="A patient's metric series, raw or bucketed",
        description="Raw points a page at a time (`cursor`, `limit`), or hour, day or ISO-week buckets with count, "
        "min, max, mean and sum. Buckets are calendar hours, days and weeks of the clinic's time zone, or of `tz`: "
        "a day is midnight to midnight there (23 or 25 hours across a DST change). Voided readings are left out.",
    )
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = object_or_404(Patient.objects.active(), patient_id)
        data = self.Input(data=request.query_params)
        data.is_valid(raise_exception=True)
        query = data.validated_data
        zone = zone_named(query["tz"]) if query.get("tz") else organization_zone()
        period = {"start": query["start"], "end": query["end"]}
        body: dict[str, Any] = {"metric_type": query["metric_type"], "bucket": query["bucket"], **period}
        body["tz"] = zone.key
        with timezone.override(zone):  # times shown in the series' zone
            if query["bucket"] == "raw":
                try:
                    page = selectors.biomarker_series_raw(
                        patient_id=patient.pk,
                        metric_type=query["metric_type"],
                        limit=query["limit"],
                        cursor=query.get("cursor"),
                        **period,
                    )
                except selectors.InvalidCursorError:
                    raise ValidationError({"cursor": ["Invalid cursor."]}) from None
                body["points"] = ReadingOutput(page.points, many=True).data
                body["next_cursor"] = page.next_cursor
            else:
                buckets = selectors.biomarker_series_bucketed(
                    patient_id=patient.pk,
                    metric_type=query["metric_type"],
                    bucket=query["bucket"],
                    zone=zone,
                    **period,
                )
                if catalog.METRICS[query["metric_type"]].is_phi:  # summaries of a PHI metric: a row per bucket
                    phi_reads.mark(record_type=READING_RECORD, patient_ids=[patient.pk] * len(buckets))
                body["buckets"] = BucketOutput(buckets, many=True).data
        return Response(body)


class LatestApi(APIView):
    resource = READING

    @extend_schema(responses=ReadingOutput(many=True), summary="A patient's latest reading per metric")
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = object_or_404(Patient.objects.active(), patient_id)
        readings = selectors.biomarker_latest_per_metric(patient_id=patient.pk)
        return Response(ReadingOutput(readings, many=True).data)


class ReadingPageOutput(serializers.Serializer):
    results = ReadingOutput(many=True)
    next_cursor = serializers.CharField(
        allow_null=True, help_text="Pass as `cursor` for the next page; null at the end."
    )
    next = serializers.URLField(allow_null=True, help_text="The next page's URL; null at the end.")


class OutOfReferenceApi(APIView):
    """Readings outside their reference range in a period, optionally for one patient, oldest first, a page at a
    time (`cursor`, `limit`).

    The API's lists page with `ListPagination`; this one keeps its own keyset page, like the timeline and the
    series: its rows come from one SQL statement over the catalog's reference ranges (`selectors`), not from a
    queryset the shared pager could order and count, and its cursor is the position (captured_at, id) of the
    last reading read. It uses the convention's names (`cursor`, `limit`, `next_cursor`, `next`)."""

    resource = READING

    class Input(PeriodInput):
        patient_id = serializers.UUIDField(required=False)
        cursor = serializers.CharField(required=False, max_length=200, help_text="The `next_cursor` of a page.")
        limit = serializers.IntegerField(min_value=1, max_value=MAX_RAW_PAGE, default=500)

    @extend_schema(
        parameters=[Input],
        responses=ReadingPageOutput,
        operation_id="biomarkers_out_of_reference_list",
        summary="Out-of-reference readings",
        description="Every reading outside its metric's reference range (or in an abnormal category) captured in "
        "[`captured_since`, `captured_before`), oldest first, `limit` per page: follow `next_cursor` (or `next`) "
        "until it is null. Keyset paging: a reading stored while paging shows up if it sorts after the page read "
        "last. Voided readings are left out. Like the timeline and the series, a page is `{results, next_cursor, "
        "next}` without `count`: the rows come from one statement over the reference ranges, not a counted list.",
    )
    def get(self, request: Request) -> Response:
        data = self.Input(data=request.query_params)
        data.is_valid(raise_exception=True)
        query = data.validated_data
        try:
            page = selectors.biomarker_out_of_reference(
                start=query["start"],
                end=query["end"],
                patient_id=query.get("patient_id"),
                limit=query["limit"],
                cursor=query.get("cursor"),
            )
        except selectors.InvalidCursorError:
            raise ValidationError({"cursor": ["Not a cursor this list gave; use a `next_cursor`."]}) from None
        next_url = None
        if page.next_cursor:
            next_query = request.query_params.copy()
            next_query["cursor"] = page.next_cursor
            next_url = request.build_absolute_uri(f"{request.path}?{next_query.urlencode()}")
        return Response(
            {
                "results": ReadingOutput(page.readings, many=True).data,
                "next_cursor": page.next_cursor,
                "next": next_url,
            }
        )


# --- Void and history ---------------------------------------------------------------------------------------


class ReadingVoided(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "This reading is already voided."


class VoidedReadingOutput(ReadingOutput):
    voided_at = serializers.DateTimeField()


class ReadingVoidApi(APIView):
    """Withdraw a reading (sent in error, a wrong device, a wrong patient)."""

    resource = READING

    class Input(serializers.Serializer):
        class Meta:
            ref_name = "ReadingVoidInput"

        reason = serializers.CharField(
            max_length=services.VOID_REASON_MAX, help_text="Why the reading is withdrawn; kept in its history."
        )

    @extend_schema(
        request=Input,
        responses={
            200: VoidedReadingOutput,
            409: OpenApiResponse(
                response=Error,
                description="The reading is already voided (or a request with this Idempotency-Key is still being "
                "processed).",
            ),
        },
        summary="Void a reading",
        description="The reading leaves every result (series, buckets, latest, out of reference) and stays, with "
        "its history (who voided it, when and why). Its source and `source_reading_id` stay taken: a retried batch "
        "that still holds the reading does not bring it back. Records a `biomarker_reading.voided` event.",
    )
    @idempotent_post
    def post(self, request: Request, reading_id: uuid.UUID) -> Response:
        reading = object_or_404(BiomarkerLog.objects.all(), reading_id)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            voided = services.biomarker_reading_void(reading=reading, reason=data.validated_data["reason"])
        except services.ReadingAlreadyVoidedError:
            raise ReadingVoided from None
        return Response(VoidedReadingOutput(voided).data)


class ReadingVersionOutput(OutputSerializer):
    value_numeric = serializers.FloatField(allow_null=True)
    value_text = serializers.CharField(allow_null=True)
    unit = serializers.CharField()
    captured_at = serializers.DateTimeField()
    voided_at = serializers.DateTimeField(allow_null=True)
    changed_at = serializers.DateTimeField(source="history_date")
    change = serializers.SerializerMethodField(help_text="`stored`, `corrected` or `voided`.")
    reason = serializers.CharField(source="history_change_reason", allow_null=True)

    def get_change(self, version: Any) -> str:
        # A voided reading takes no correction, so the one change that sets `voided_at` is the void.
        if version.history_type == "+":
            return "stored"
        return "voided" if version.voided_at is not None else "corrected"


class ReadingHistoryOutput(serializers.Serializer):
    reading = ReadingOutput()
    versions = ReadingVersionOutput(many=True, help_text="Oldest first: as stored, each correction, the void.")


class ReadingHistoryApi(APIView):
    resource = READING

    @extend_schema(
        responses=ReadingHistoryOutput,
        summary="A reading and its versions",
        description="The reading as it is now (voided or not) and every version it had: the value first stored, "
        "each correction by its source (`corrected`), and the void.",
    )
    def get(self, request: Request, reading_id: uuid.UUID) -> Response:
        reading = object_or_404(BiomarkerLog.objects.all(), reading_id)
        versions = selectors.biomarker_reading_history(reading_id=reading.pk)
        return Response(
            {"reading": ReadingOutput(reading).data, "versions": ReadingVersionOutput(versions, many=True).data}
        )
