from __future__ import annotations

import uuid

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.organizations.access import object_or_404
from apps.organizations.roles import Role

from . import selectors, services

WRITE_ROLES = frozenset({Role.OWNER.value, Role.CLINICIAN.value, Role.FRONT_DESK.value})


class PatientOutput(serializers.Serializer):
    id = serializers.UUIDField()
    mrn = serializers.CharField()
    given_name = serializers.CharField()
    family_name = serializers.CharField()
    date_of_birth = serializers.DateField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class PatientInput(serializers.Serializer):
    mrn = serializers.CharField(max_length=32)
    given_name = serializers.CharField(max_length=100)
    family_name = serializers.CharField(max_length=100)
    date_of_birth = serializers.DateField()


class PatientListApi(APIView):
    api_scope = "patients"
    write_roles = WRITE_ROLES

    @extend_schema(responses=PatientOutput(many=True), summary="List patients")
    def get(self, request: Request) -> Response:
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(selectors.patient_list(), request, view=self)
        return paginator.get_paginated_response(PatientOutput(page, many=True).data)

    @extend_schema(request=PatientInput, responses={201: PatientOutput}, summary="Register a patient")
    def post(self, request: Request) -> Response:
        data = PatientInput(data=request.data)
        data.is_valid(raise_exception=True)
        patient = services.patient_create(**data.validated_data)
        return Response(PatientOutput(patient).data, status=status.HTTP_201_CREATED)


class PatientDetailApi(APIView):
    api_scope = "patients"
    write_roles = WRITE_ROLES

    @extend_schema(responses=PatientOutput, summary="A patient")
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        return Response(PatientOutput(object_or_404(selectors.patient_list(), patient_id)).data)

    @extend_schema(request=PatientInput(partial=True), responses=PatientOutput, summary="Change a patient")
    def patch(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = object_or_404(selectors.patient_list(), patient_id)
        data = PatientInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        patient = services.patient_update(patient=patient, **data.validated_data)
        return Response(PatientOutput(patient).data)

    @extend_schema(responses={204: None}, summary="Soft-delete a patient")
    def delete(self, request: Request, patient_id: uuid.UUID) -> Response:
        services.patient_soft_delete(patient=object_or_404(selectors.patient_list(), patient_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
