from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.organizations.access import object_or_404
from apps.organizations.idempotency import idempotent_post
from apps.organizations.parsers import BatchJSONParser
from apps.organizations.rendering import OutputSerializer
from apps.patients import phi_reads
from apps.patients.models import Patient, PHIAccessLog
from config.openapi import body_variants, error_response

from . import adapters, catalog, selectors, services
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
    start = serializers.DateTimeField()
    count = serializers.IntegerField()
    min = serializers.FloatField()
    max = serializers.FloatField()
    mean = serializers.FloatField()


class SeriesOutput(serializers.Serializer):
    metric_type = serializers.CharField()
    bucket = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    points = ReadingOutput(many=True, required=False, help_text="raw points (bucket=raw)")
    next_cursor = serializers.CharField(allow_null=True, required=False)
    buckets = BucketOutput(many=True, required=False, help_text="hour, day or week buckets")


class IngestOutput(serializers.Serializer):
    received = serializers.IntegerField()
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()


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
    """Up to 10,000 readings, all-or-nothing; a reading already stored (same source and id) is skipped."""

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
        "`source_reading_id`) is counted as a duplicate and skipped: 201 when something was created, 200 when all "
        "were duplicates.",
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
        "(all or nothing, duplicates skipped). A bad record is a 400 naming it (`records[2].score`).",
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
    """One patient's metric over [start, end): raw points (cursor-paginated) or hour/day/week buckets."""

    resource = READING

    class Input(PeriodInput):
        metric_type = serializers.ChoiceField(choices=sorted(catalog.METRICS))
        bucket = serializers.ChoiceField(choices=["raw", *selectors.BUCKETS], default="raw")
        cursor = serializers.CharField(required=False)
        limit = serializers.IntegerField(min_value=1, max_value=MAX_RAW_PAGE, default=500)

    @extend_schema(parameters=[Input], responses=SeriesOutput, summary="A patient's metric series, raw or bucketed")
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = object_or_404(Patient.objects.active(), patient_id)
        data = self.Input(data=request.query_params)
        data.is_valid(raise_exception=True)
        query = data.validated_data
        period = {"start": query["start"], "end": query["end"]}
        body: dict[str, Any] = {"metric_type": query["metric_type"], "bucket": query["bucket"], **period}
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
                patient_id=patient.pk, metric_type=query["metric_type"], bucket=query["bucket"], **period
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


class OutOfReferenceApi(APIView):
    """Readings outside their reference range in a period, optionally for one patient (at most 500)."""

    resource = READING

    class Input(PeriodInput):
        patient_id = serializers.UUIDField(required=False)

    @extend_schema(parameters=[Input], responses=ReadingOutput(many=True), summary="Out-of-reference readings")
    def get(self, request: Request) -> Response:
        data = self.Input(data=request.query_params)
        data.is_valid(raise_exception=True)
        query = data.validated_data
        readings = selectors.biomarker_out_of_reference(
            start=query["start"], end=query["end"], patient_id=query.get("patient_id")
        )
        return Response(ReadingOutput(readings, many=True).data)
