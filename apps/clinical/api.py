"""Clinical API: encounters and hub events with their detail rows. Reads are written to the PHI access log."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.organizations.access import object_or_404
from apps.organizations.filtering import filter_parameters, filter_queryset
from apps.organizations.idempotency import idempotent_post
from apps.organizations.pagination import ListPagination
from apps.patients.selectors import patient_list
from config.openapi import body_variants

from . import selectors, services
from .filters import ClinicalEventFilter, EncounterFilter
from .models import ClinicalEvent
from .permissions import CLINICAL_EVENT, ENCOUNTER
from .serializers import (
    SPOKE_INPUTS,
    ClinicalEventInput,
    ClinicalEventOutput,
    EncounterInput,
    EncounterOutput,
    ManualEntryInput,
    VitalsInput,
    vitals_readings,
)


class EncounterListApi(APIView):
    pagination_class = ListPagination
    resource = ENCOUNTER

    @extend_schema(
        parameters=filter_parameters(EncounterFilter), responses=EncounterOutput(many=True), summary="List encounters"
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        encounters = filter_queryset(EncounterFilter, request, selectors.encounter_list())
        page = paginator.paginate_queryset(encounters, request, view=self) or []
        return paginator.get_paginated_response(EncounterOutput(page, many=True).data)

    @extend_schema(request=EncounterInput, responses={201: EncounterOutput}, summary="Open an encounter")
    @idempotent_post
    def post(self, request: Request) -> Response:
        data = EncounterInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        patient = object_or_404(patient_list(), fields.pop("patient_id"))
        encounter = services.encounter_create(patient=patient, **fields)
        return Response(EncounterOutput(encounter).data, status=status.HTTP_201_CREATED)


class EncounterDetailApi(APIView):
    resource = ENCOUNTER

    @extend_schema(responses=EncounterOutput, summary="An encounter")
    def get(self, request: Request, encounter_id: uuid.UUID) -> Response:
        encounter = object_or_404(selectors.encounter_list(), encounter_id)
        return Response(EncounterOutput(encounter).data)


class ClinicalEventListApi(APIView):
    pagination_class = ListPagination
    resource = CLINICAL_EVENT

    @extend_schema(
        parameters=filter_parameters(ClinicalEventFilter),
        responses=ClinicalEventOutput(many=True),
        summary="List clinical events with their detail rows",
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        events = filter_queryset(ClinicalEventFilter, request, selectors.clinical_event_list())
        page = paginator.paginate_queryset(events, request, view=self) or []
        return paginator.get_paginated_response(ClinicalEventOutput(page, many=True).data)

    @extend_schema(
        request=ClinicalEventInput,
        responses={201: ClinicalEventOutput},
        summary="Record a clinical event with its detail rows and codes (all or nothing)",
    )
    @idempotent_post
    def post(self, request: Request) -> Response:
        data = ClinicalEventInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        patient = object_or_404(patient_list(), fields["patient_id"])
        encounter = None
        if fields.get("encounter_id"):
            encounter = object_or_404(selectors.encounter_list(), fields["encounter_id"])
        event = services.clinical_event_create(
            patient=patient,
            encounter=encounter,
            event=fields["event"],
            details=fields.get("details", {}),
            codes=fields.get("codes", []),
        )
        created = selectors.clinical_event_list().get(pk=event.pk)
        return Response(ClinicalEventOutput(created).data, status=status.HTTP_201_CREATED)


class ClinicalEventDetailApi(APIView):
    resource = CLINICAL_EVENT

    @extend_schema(responses=ClinicalEventOutput, summary="A clinical event with its detail rows")
    def get(self, request: Request, event_id: uuid.UUID) -> Response:
        event = object_or_404(selectors.clinical_event_list(), event_id)
        return Response(ClinicalEventOutput(event).data)

    @extend_schema(responses={204: None}, summary="Delete an event entered in error (its detail rows go with it)")
    def delete(self, request: Request, event_id: uuid.UUID) -> Response:
        services.clinical_event_delete(event=object_or_404(selectors.clinical_event_list(), event_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ManualEntryApi(APIView):
    resource = CLINICAL_EVENT
    resource_actions = {"POST": "manual_entry"}

    @extend_schema(
        request=body_variants(
            ManualEntryInput,
            name="ManualEntryBody",
            field="detail_type",
            variants={name: {"values": serializer()} for name, serializer in sorted(SPOKE_INPUTS.items())},
        ),
        responses={201: ClinicalEventOutput},
        summary="Record one detail row entered by hand (creates its synthetic hub event)",
    )
    @idempotent_post
    def post(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = object_or_404(patient_list(), patient_id)
        data = ManualEntryInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        event = services.clinical_entry_record_manual(
            patient=patient,
            spoke_type=fields["detail_type"],
            fields=fields["values"],
            recorded_at=fields.get("recorded_at"),
            **({"data_classification": fields["data_classification"]} if "data_classification" in fields else {}),
        )
        created = selectors.clinical_event_list().get(pk=event.pk)
        return Response(ClinicalEventOutput(created).data, status=status.HTTP_201_CREATED)


class VitalsEntryApi(APIView):
    resource = CLINICAL_EVENT
    resource_actions = {"POST": "manual_entry"}

    @extend_schema(
        request=VitalsInput,
        responses={201: ClinicalEventOutput},
        summary="Record vital signs as written (BP 128/82, temperature in Cel or degF, weight in kg or lb, ...)",
    )
    @idempotent_post
    def post(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = object_or_404(patient_list(), patient_id)
        data = VitalsInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        encounter = None
        if fields.get("encounter_id"):
            encounter = object_or_404(selectors.encounter_list().filter(patient=patient), fields["encounter_id"])
        event = services.vitals_record(
            patient=patient,
            measured_at=fields["measured_at"],
            readings=vitals_readings(fields),
            clinical_purposes=fields.get("clinical_purposes", [ClinicalEvent.Purpose.MONITORING]),
            encounter=encounter,
        )
        created = selectors.clinical_event_list().get(pk=event.pk)
        return Response(ClinicalEventOutput(created).data, status=status.HTTP_201_CREATED)
