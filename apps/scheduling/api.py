"""Scheduling API: appointment types, providers, free slots, appointments (book, move, change status, check in)
and recurring series. Ids in a body that name nothing the caller can see are a 400 naming the field; a time the
provider or room already has is a 409."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.organizations.access import object_or_404
from apps.organizations.filtering import filter_parameters, filter_queryset
from apps.organizations.idempotency import idempotent_post
from apps.organizations.pagination import ListPagination
from apps.patients import phi_reads
from apps.patients.models import PHIAccessLog
from apps.patients.selectors import patient_list
from config.openapi import Error

from . import selectors, services
from .filters import AppointmentFilter
from .models import AppointmentReason, AppointmentStatus
from .permissions import APPOINTMENT, APPOINTMENT_TYPE, FREE_SLOTS, PROVIDER
from .serializers import (
    AppointmentInput,
    AppointmentOutput,
    AppointmentSeriesInput,
    AppointmentSeriesOutput,
    AppointmentTypeOutput,
    CheckInOutput,
    FreeSlotOutput,
    FreeSlotsQuery,
    RescheduleInput,
    SchedulingProviderOutput,
    TransitionInput,
)

# A taken time is a conflict in the one error shape (as is a request whose Idempotency-Key is still running).
SLOT_TAKEN = OpenApiResponse(
    response=Error,
    description="The provider or the room already has an appointment at this time (the message says which), or a "
    "request with this Idempotency-Key is still being processed.",
)

T = TypeVar("T")


class SlotConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "That time is already booked."


def _booking(run: Callable[[], T]) -> T:
    """Run a booking service; a time already taken is a 409 saying whose (the provider's or the room's)."""
    try:
        return run()
    except services.SlotTakenError as taken:
        raise SlotConflict(taken.message) from None


def _shown(*appointments: Any) -> list[Any]:
    """The appointments an answer shows, each a read of its patient's appointment record (PHI access log)."""
    phi_reads.mark(record_type=PHIAccessLog.RecordType.APPOINTMENT, patient_ids=[a.patient_id for a in appointments])
    return list(appointments)


def _appointments() -> Any:
    return selectors.appointment_list().prefetch_related(Prefetch("reason", queryset=AppointmentReason.objects.all()))


def _parties(fields: dict[str, Any]) -> dict[str, Any]:
    """The rows a booking's ids name, each a 400 naming its field when unknown (or another organization's)."""
    parties: dict[str, Any] = {
        "patient": selectors.named_object(
            patient_list(), fields.pop("patient_id"), field="patient_id", label="patient"
        ),
        "provider": selectors.named_object(
            selectors.provider_list(), fields.pop("provider_id"), field="provider_id", label="provider"
        ),
        "appointment_type": selectors.named_object(
            selectors.appointment_type_list(),
            fields.pop("appointment_type_id"),
            field="appointment_type_id",
            label="appointment type",
        ),
    }
    room_id = fields.pop("room_id", None)
    if room_id is not None:
        parties["room"] = selectors.named_object(selectors.room_list(), room_id, field="room_id", label="room")
    return parties


class AppointmentTypeListApi(APIView):
    pagination_class = ListPagination
    resource = APPOINTMENT_TYPE

    @extend_schema(responses=AppointmentTypeOutput(many=True), summary="List appointment types")
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.appointment_type_list(), request, view=self) or []
        return paginator.get_paginated_response(AppointmentTypeOutput(page, many=True).data)


class ProviderListApi(APIView):
    pagination_class = ListPagination
    resource = PROVIDER

    @extend_schema(responses=SchedulingProviderOutput(many=True), summary="List providers who take bookings")
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.provider_list(), request, view=self) or []
        return paginator.get_paginated_response(SchedulingProviderOutput(page, many=True).data)


class FreeSlotListApi(APIView):
    resource = FREE_SLOTS

    @extend_schema(
        parameters=[FreeSlotsQuery], responses=FreeSlotOutput(many=True), summary="Free slots in the clinic's zone"
    )
    def get(self, request: Request) -> Response:
        query = FreeSlotsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        fields = query.validated_data
        kind = selectors.named_object(
            selectors.appointment_type_list(),
            fields["appointment_type_id"],
            field="appointment_type_id",
            label="appointment type",
        )
        providers = selectors.provider_list()
        if fields.get("provider_id"):
            providers = providers.filter(
                pk=selectors.named_object(providers, fields["provider_id"], field="provider_id", label="provider").pk
            )
        slots = selectors.free_slots(
            providers=providers, appointment_type=kind, first_day=fields["first_day"], last_day=fields["last_day"]
        )
        return Response(FreeSlotOutput(slots, many=True).data)


class AppointmentListApi(APIView):
    pagination_class = ListPagination
    resource = APPOINTMENT

    @extend_schema(
        parameters=filter_parameters(AppointmentFilter),
        responses=AppointmentOutput(many=True),
        summary="List appointments (by provider, patient, status, period)",
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        appointments = filter_queryset(AppointmentFilter, request, _appointments())
        page = _shown(*(paginator.paginate_queryset(appointments, request, view=self) or []))
        return paginator.get_paginated_response(AppointmentOutput(page, many=True).data)

    @extend_schema(
        request=AppointmentInput,
        responses={201: AppointmentOutput, 409: SLOT_TAKEN},
        summary="Book an appointment (409 when the provider or room is taken)",
    )
    @idempotent_post
    def post(self, request: Request) -> Response:
        data = AppointmentInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        parties = _parties(fields)
        appointment = _booking(lambda: services.appointment_book(**parties, **fields))
        (created,) = _shown(_appointments().get(pk=appointment.pk))
        return Response(AppointmentOutput(created).data, status=status.HTTP_201_CREATED)


class AppointmentDetailApi(APIView):
    resource = APPOINTMENT

    @extend_schema(responses=AppointmentOutput, summary="An appointment")
    def get(self, request: Request, appointment_id: uuid.UUID) -> Response:
        (appointment,) = _shown(object_or_404(_appointments(), appointment_id))
        return Response(AppointmentOutput(appointment).data)


class AppointmentSeriesApi(APIView):
    resource = APPOINTMENT

    @extend_schema(
        request=AppointmentSeriesInput,
        responses={201: AppointmentSeriesOutput, 409: SLOT_TAKEN},
        summary="Book a weekly or fortnightly series at the same local time (all or none)",
    )
    @idempotent_post
    def post(self, request: Request) -> Response:
        data = AppointmentSeriesInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        parties = _parties(fields)
        fields.pop("ends_at", None)
        series = _booking(lambda: services.series_book(**parties, first_starts_at=fields.pop("starts_at"), **fields))
        series.appointment_list = _shown(*_appointments().filter(series=series))  # type: ignore[attr-defined]
        return Response(AppointmentSeriesOutput(series).data, status=status.HTTP_201_CREATED)


class AppointmentTransitionApi(APIView):
    resource = APPOINTMENT
    resource_actions = {"POST": "transition"}

    @extend_schema(
        request=TransitionInput, responses=AppointmentOutput, summary="Change an appointment's status (or cancel)"
    )
    def post(self, request: Request, appointment_id: uuid.UUID) -> Response:
        appointment = object_or_404(selectors.appointment_list(), appointment_id)
        data = TransitionInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        if fields["status"] in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW):
            services.appointment_cancel(
                appointment=appointment,
                reason=fields.get("reason", ""),
                no_show=fields["status"] == AppointmentStatus.NO_SHOW,
            )
        else:
            services.appointment_transition(
                appointment=appointment, status=fields["status"], diagnosis_codes=fields.get("diagnosis_codes")
            )
        (changed,) = _shown(_appointments().get(pk=appointment.pk))
        return Response(AppointmentOutput(changed).data)


class AppointmentRescheduleApi(APIView):
    resource = APPOINTMENT

    @extend_schema(
        request=RescheduleInput, responses={200: AppointmentOutput, 409: SLOT_TAKEN}, summary="Move an appointment"
    )
    def post(self, request: Request, appointment_id: uuid.UUID) -> Response:
        appointment = object_or_404(selectors.appointment_list(), appointment_id)
        data = RescheduleInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        room_id = fields.pop("room_id", None)
        room = (
            selectors.named_object(selectors.room_list(), room_id, field="room_id", label="room") if room_id else None
        )
        _booking(lambda: services.appointment_reschedule(appointment=appointment, room=room, **fields))
        (changed,) = _shown(_appointments().get(pk=appointment.pk))
        return Response(AppointmentOutput(changed).data)


class AppointmentCheckInApi(APIView):
    resource = APPOINTMENT
    resource_actions = {"POST": "check_in"}

    @extend_schema(
        request=None,
        responses=CheckInOutput,
        summary="Check the patient in: opens the visit's encounter; says whether consents and insurance are in order",
    )
    def post(self, request: Request, appointment_id: uuid.UUID) -> Response:
        appointment = object_or_404(selectors.appointment_list(), appointment_id)
        checked_in = services.appointment_check_in(appointment=appointment)
        result = {
            "appointment": _shown(_appointments().get(pk=appointment.pk))[0],
            "encounter": checked_in.encounter,
            "status": checked_in.status,
        }
        return Response(CheckInOutput(result).data)
