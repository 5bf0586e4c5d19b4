from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
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
from config.openapi import error_response

from . import adapters, catalog, selectors, services
from .permissions import READING

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


class ReadingBulkCreateApi(APIView):
    """Up to 10,000 readings, all-or-nothing; a reading already stored (same source and id) is skipped."""

    resource = READING
    parser_classes = [BatchJSONParser]

    class Input(serializers.Serializer):
        class Meta:
            ref_name = "ReadingBatchInput"

        # Rows are checked by the service (fast, per row, naming row and field), not by a nested serializer.
        readings = BatchRowsField(allow_empty=False, max_length=services.MAX_BATCH)

    @extend_schema(
        request=Input,
        responses={201: IngestOutput, 200: IngestOutput, 413: error_response(413)},
        summary="Ingest readings",
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
        request=Input,
        responses={201: IngestOutput, 200: IngestOutput, 413: error_response(413)},
        summary="Import native records",
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
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs.setdefault("end", timezone.now())
        if "start" not in attrs:
            try:
                attrs["start"] = attrs["end"] - DEFAULT_PERIOD
            except OverflowError:  # an end in the first days of year 1
                raise ValidationError(
                    {"end": [f"Give a start: {DEFAULT_PERIOD.days} days before end is out of range."]}
                ) from None
        if attrs["start"] >= attrs["end"]:
            raise ValidationError({"start": ["Must be before end."]})
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
