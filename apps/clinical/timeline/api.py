"""Timeline, adherence and assessment endpoints: parse, call a service or selector, shape the output."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.organizations.access import object_or_404
from apps.organizations.idempotency import idempotent_post
from apps.organizations.pagination import ListPagination
from apps.organizations.rendering import OutputSerializer
from apps.organizations.roles import DataClassification
from apps.patients import phi_reads
from apps.patients.models import Patient, PHIAccessLog
from apps.patients.selectors import patient_list
from config.openapi import body_variants

from ..models import AssessmentFlag
from ..permissions import (
    ASSESSMENT,
    ASSESSMENT_FLAG,
    HEALTH_EVENT,
    INSTRUMENT,
    MEDICATION_ADHERENCE,
)
from . import scoring, selectors, services
from .openapi import EVENT_DATA, POSTABLE_TYPES
from .vocabulary import EVENT_SUBTYPES, EventType, Source

MAX_PAGE_SIZE = 200


def _patient(patient_id: uuid.UUID) -> Patient:
    return object_or_404(patient_list(), patient_id)


class HealthEventOutput(phi_reads.MarksReads, OutputSerializer):
    phi_record_type = PHIAccessLog.RecordType.HEALTH_EVENT
    phi_rows_only = True

    id = serializers.UUIDField()
    patient_id = serializers.UUIDField()
    event_type = serializers.CharField()
    event_subtype = serializers.CharField()
    event_data = serializers.JSONField()
    occurred_at = serializers.DateTimeField()
    recorded_at = serializers.DateTimeField()
    source = serializers.CharField()  # type: ignore[assignment]
    data_classification = serializers.CharField()
    supersedes_id = serializers.UUIDField(allow_null=True)


class TimelinePageOutput(serializers.Serializer):
    results = HealthEventOutput(many=True)
    next_cursor = serializers.CharField(
        allow_null=True, help_text="Pass as `cursor` for the next page; null at the end."
    )
    next = serializers.URLField(allow_null=True, help_text="The next page's URL; null at the end.")


class TimelineQuery(serializers.Serializer):
    type = serializers.ListField(child=serializers.CharField(max_length=20), required=False, max_length=20)
    occurred_since = serializers.DateTimeField(required=False, source="since", help_text="Occurred at or after.")
    occurred_before = serializers.DateTimeField(required=False, source="until", help_text="Occurred before.")
    updated_since = serializers.DateTimeField(
        required=False, help_text="Only events recorded or changed at or after this instant."
    )
    cursor = serializers.CharField(required=False, max_length=200, help_text="The `next_cursor` of the last page.")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE, default=50)
    include_superseded = serializers.BooleanField(required=False, default=False)

    def validate_type(self, value: list[str]) -> list[str]:
        if not set(value) <= set(EventType.values):
            raise serializers.ValidationError(f"Use event types from: {', '.join(EventType.values)}.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "since" in attrs and "until" in attrs and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError({"occurred_before": "Must be after occurred_since."})
        return attrs


def _query_params(request: Request) -> dict[str, Any]:
    """Query parameters as a dict; `type` may repeat or be comma-separated."""
    params: dict[str, Any] = {key: request.query_params.get(key) for key in request.query_params}
    if "type" in request.query_params:
        params["type"] = [t for value in request.query_params.getlist("type") for t in value.split(",") if t]
    return params


class HealthEventInput(serializers.Serializer):
    event_type = serializers.CharField(max_length=20)
    event_subtype = serializers.CharField(max_length=30)
    event_data = serializers.JSONField()
    occurred_at = serializers.DateTimeField()
    source = serializers.ChoiceField(choices=Source.choices, required=False)  # type: ignore[assignment]
    data_classification = serializers.CharField(required=False, max_length=20)
    supersedes = serializers.UUIDField(required=False)


class HealthEventListApi(APIView):
    resource = HEALTH_EVENT

    @extend_schema(
        parameters=[TimelineQuery],
        responses=TimelinePageOutput,
        summary="A patient's timeline, newest first (cursor-paginated)",
    )
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = _patient(patient_id)
        query = TimelineQuery(data=_query_params(request))
        query.is_valid(raise_exception=True)
        params = query.validated_data
        events = selectors.health_event_list(
            patient=patient,
            types=params.get("type", ()),
            since=params.get("since"),
            until=params.get("until"),
            include_superseded=params["include_superseded"],
        )
        if params.get("updated_since") is not None:
            events = events.filter(updated_at__gte=params["updated_since"])
        page = selectors.health_event_page(events, cursor=params.get("cursor"), size=params["limit"])
        next_url = None
        if page.next_cursor:
            next_query = request.query_params.copy()
            next_query["cursor"] = page.next_cursor
            next_url = request.build_absolute_uri(f"{request.path}?{next_query.urlencode()}")
        return Response(
            {
                "results": HealthEventOutput(page.events, many=True).data,
                "next_cursor": page.next_cursor,
                "next": next_url,
            }
        )

    @extend_schema(
        request=body_variants(
            HealthEventInput,
            name="HealthEventBody",
            field="event_type",
            variants={
                event_type: {
                    "event_subtype": serializers.ChoiceField(choices=list(EVENT_SUBTYPES[event_type])),
                    "event_data": EVENT_DATA[event_type](),
                }
                for event_type in POSTABLE_TYPES
            },
        ),
        responses={201: HealthEventOutput},
        summary="Record a health event",
        description="One entry of the patient's timeline. `event_data` depends on `event_type` (each shape is "
        "documented; an unknown key is a 400 naming it). The timeline is append-only: to correct an event, "
        "record a new one with `supersedes` set to the old one's id.",
        examples=[
            OpenApiExample(
                "A mood check-in",
                request_only=True,
                value={
                    "event_type": "mood",
                    "event_subtype": "daily_checkin",
                    "event_data": {"mood": "calm", "confidence": 7, "anxiety_level": 2},
                    "occurred_at": "2024-03-10T08:30:00Z",
                },
            )
        ],
    )
    @idempotent_post
    def post(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = _patient(patient_id)
        data = HealthEventInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        supersedes_id = fields.pop("supersedes", None)
        supersedes = None
        if supersedes_id is not None:
            supersedes = (
                selectors.health_event_list(patient=patient, include_superseded=True).filter(pk=supersedes_id).first()
            )
            if supersedes is None:
                raise ValidationError({"supersedes": "No such event on this patient's timeline."})
        event = services.health_event_record(patient=patient, supersedes=supersedes, **fields)
        return Response(HealthEventOutput(event).data, status=status.HTTP_201_CREATED)


class WindowQuery(serializers.Serializer):
    days = serializers.IntegerField(required=False, min_value=1, max_value=365)


class DaySummaryOutput(OutputSerializer):
    date = serializers.DateField()
    counts = serializers.DictField(child=serializers.IntegerField())
    latest_mood = serializers.DictField(allow_null=True)


class DaySummaryListOutput(serializers.Serializer):
    days = serializers.IntegerField()
    results = DaySummaryOutput(many=True)


class HealthEventSummaryApi(APIView):
    resource = HEALTH_EVENT

    @extend_schema(
        parameters=[OpenApiParameter("days", int, description="Window in days before now (default 14)")],
        responses=DaySummaryListOutput,
        summary="Per-day summary: counts per event type and the latest mood",
    )
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = _patient(patient_id)
        query = WindowQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        until = timezone.now()
        days = query.validated_data.get("days", 14)
        summary = selectors.health_event_daily_summary(
            patient=patient, since=until - timedelta(days=days), until=until + settings.KURA_MAX_CLOCK_SKEW
        )
        # The counts show no record's content; a mood shown is logged when it was recorded as PHI.
        phi = DataClassification.CLINICAL_PHI
        phi_reads.mark(
            record_type=PHIAccessLog.RecordType.HEALTH_EVENT,
            patient_ids=[patient.pk for day in summary if (day["latest_mood"] or {}).get("data_classification") == phi],
        )
        return Response({"days": days, "results": DaySummaryOutput(summary, many=True).data})


class MedicationAdherenceOutput(OutputSerializer):
    medication_id = serializers.CharField(allow_null=True)
    medication_name = serializers.CharField(allow_null=True)
    taken = serializers.IntegerField()
    total = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)


class AdherenceOutput(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    days = serializers.IntegerField()
    taken = serializers.IntegerField()
    total = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True, help_text="Percent taken, one decimal; null if none scheduled.")
    medications = MedicationAdherenceOutput(many=True)


class MedicationAdherenceApi(APIView):
    resource = MEDICATION_ADHERENCE

    @extend_schema(
        parameters=[OpenApiParameter("days", int, description="Window in days before now (default 7)")],
        responses=AdherenceOutput,
        summary="Medication adherence per medication and overall",
    )
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = _patient(patient_id)
        query = WindowQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        adherence = selectors.medication_adherence(patient=patient, days=query.validated_data.get("days", 7))
        # Medication events are clinical data: a row per medication shown.
        phi_reads.mark(
            record_type=PHIAccessLog.RecordType.HEALTH_EVENT,
            patient_ids=[patient.pk] * len(adherence.medications),
        )
        return Response(AdherenceOutput(adherence).data)


class AssessmentResponseOutput(phi_reads.MarksReads, OutputSerializer):
    phi_record_type = PHIAccessLog.RecordType.ASSESSMENT
    phi_rows_only = True

    id = serializers.UUIDField()
    patient_id = serializers.UUIDField()
    instrument = serializers.CharField()
    answers = serializers.ListField(child=serializers.IntegerField())
    total = serializers.IntegerField()
    subscales = serializers.JSONField()
    severity = serializers.CharField()
    completed_at = serializers.DateTimeField()
    health_event_id = serializers.UUIDField()
    flagged = serializers.SerializerMethodField()

    def get_flagged(self, response: Any) -> bool:
        return bool(response.flags.all())


@extend_schema_field(serializers.ListField(child=serializers.IntegerField(min_value=0)))
class AnswersField(serializers.JSONField):
    """One whole-number answer per item, in the instrument's order (the scoring rules check count and range)."""


class BandInput(serializers.Serializer):
    min = serializers.IntegerField(min_value=0)
    max = serializers.IntegerField(min_value=0)
    label = serializers.CharField(max_length=50)  # type: ignore[assignment]  # a field, not Field.label


@extend_schema_field(BandInput(many=True))
class BandsField(serializers.JSONField):
    """Severity bands by total score, together covering every possible total (checked by the service)."""


class AssessmentInput(serializers.Serializer):
    instrument = serializers.CharField(max_length=50, help_text="phq4, gad7, phq9, or a custom instrument's code.")
    answers = AnswersField()
    completed_at = serializers.DateTimeField(required=False)
    source = serializers.ChoiceField(choices=Source.choices, required=False)  # type: ignore[assignment]


class AssessmentListApi(APIView):
    pagination_class = ListPagination
    resource = ASSESSMENT

    @extend_schema(responses=AssessmentResponseOutput(many=True), summary="A patient's completed assessments")
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = _patient(patient_id)
        paginator = self.pagination_class()
        responses = selectors.assessment_response_list(patient=patient).prefetch_related("flags")
        page = paginator.paginate_queryset(responses, request, view=self)
        return paginator.get_paginated_response(AssessmentResponseOutput(page, many=True).data)

    @extend_schema(request=AssessmentInput, responses={201: AssessmentResponseOutput}, summary="Complete an assessment")
    @idempotent_post
    def post(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = _patient(patient_id)
        data = AssessmentInput(data=request.data)
        data.is_valid(raise_exception=True)
        response = services.assessment_complete(patient=patient, **data.validated_data)
        return Response(AssessmentResponseOutput(response).data, status=status.HTTP_201_CREATED)


class InstrumentOutput(OutputSerializer):
    code = serializers.CharField()
    name = serializers.CharField()
    items = serializers.ListField(child=serializers.CharField())
    min_answer = serializers.IntegerField()
    max_answer = serializers.IntegerField()
    answer_labels = serializers.ListField(child=serializers.CharField())
    bands = serializers.ListField(child=serializers.DictField())
    builtin = serializers.BooleanField()


def _instrument_data(instrument: scoring.Instrument) -> dict[str, Any]:
    return {
        "code": instrument.code,
        "name": instrument.name,
        "items": list(instrument.items),
        "min_answer": instrument.min_answer,
        "max_answer": instrument.max_answer,
        "answer_labels": list(instrument.answer_labels),
        "bands": [{"min": b.minimum, "max": b.maximum, "label": b.label} for b in instrument.bands],
        "builtin": instrument.builtin,
    }


class AssessmentDefinitionInput(serializers.Serializer):
    code = serializers.SlugField(max_length=50)
    name = serializers.CharField(max_length=200)
    items = serializers.ListField(child=serializers.CharField(max_length=500), min_length=1, max_length=50)
    min_answer = serializers.IntegerField(min_value=0, max_value=99, default=0)
    max_answer = serializers.IntegerField(min_value=1, max_value=100)
    bands = BandsField()


class InstrumentListOutput(serializers.Serializer):
    results = InstrumentOutput(many=True)


class InstrumentListApi(APIView):
    resource = INSTRUMENT

    @extend_schema(responses=InstrumentListOutput, summary="Assessments: built-in and the organization's own")
    def get(self, request: Request) -> Response:
        instruments = list(scoring.BUILTIN_INSTRUMENTS.values())
        instruments += [scoring.custom_instrument(d) for d in selectors.assessment_definition_list()]
        return Response({"results": [_instrument_data(i) for i in instruments]})

    @extend_schema(
        request=AssessmentDefinitionInput, responses={201: InstrumentOutput}, summary="Define a custom assessment"
    )
    @idempotent_post
    def post(self, request: Request) -> Response:
        data = AssessmentDefinitionInput(data=request.data)
        data.is_valid(raise_exception=True)
        definition = services.assessment_definition_create(**data.validated_data)
        return Response(_instrument_data(scoring.custom_instrument(definition)), status=status.HTTP_201_CREATED)


class AssessmentFlagOutput(phi_reads.MarksReads, OutputSerializer):
    phi_record_type = PHIAccessLog.RecordType.ASSESSMENT
    phi_rows_only = True

    id = serializers.UUIDField()
    patient_id = serializers.UUIDField()
    response_id = serializers.UUIDField()
    reason = serializers.CharField()
    raised_at = serializers.DateTimeField()
    reviewed_at = serializers.DateTimeField(allow_null=True)
    reviewed_by_id = serializers.IntegerField(allow_null=True)
    review_action = serializers.CharField()
    review_comment = serializers.CharField()


class FlagReviewInput(serializers.Serializer):
    action = serializers.ChoiceField(choices=AssessmentFlag.ReviewAction.choices)
    comment = serializers.CharField(max_length=services.REVIEW_COMMENT_MAX_LENGTH)


class AssessmentFlagListApi(APIView):
    pagination_class = ListPagination
    resource = ASSESSMENT_FLAG

    @extend_schema(responses=AssessmentFlagOutput(many=True), summary="Patients needing review (open flags)")
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.assessment_flag_open_list(), request, view=self)
        return paginator.get_paginated_response(AssessmentFlagOutput(page, many=True).data)


class AssessmentFlagReviewApi(APIView):
    resource = ASSESSMENT_FLAG
    resource_actions = {"POST": "review"}

    @extend_schema(
        request=FlagReviewInput,
        responses=AssessmentFlagOutput,
        summary="Record the review of a flag: the action taken and a comment (who and when are recorded)",
    )
    def post(self, request: Request, flag_id: uuid.UUID) -> Response:
        flag = object_or_404(selectors.assessment_flag_list(), flag_id)
        data = FlagReviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        flag = services.assessment_flag_review(
            flag=flag,
            user_id=request.user.pk if request.user else None,
            action=data.validated_data["action"],
            comment=data.validated_data["comment"],
        )
        return Response(AssessmentFlagOutput(flag).data)
