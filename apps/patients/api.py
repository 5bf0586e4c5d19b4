"""Patients and consents API. Every response that shows a patient's record is written to the PHI access log."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.organizations.access import object_or_404
from apps.organizations.filtering import filter_parameters, filter_queryset
from apps.organizations.idempotency import idempotent_post
from apps.organizations.pagination import ListPagination
from apps.organizations.rendering import OutputSerializer

from . import phi_reads, selectors, services
from .filters import ConsentFilter, PatientFilter
from .models import Consent, Patient, PHIAccessLog
from .permissions import CONSENT, PATIENT


class PatientOutput(phi_reads.MarksReads, OutputSerializer):
    """Every patient rendered is a read of the record (lists, details and the answers of writes)."""

    phi_record_type = PHIAccessLog.RecordType.PATIENT

    def patient_id_of(self, instance: Any) -> Any:
        return instance.pk

    id = serializers.UUIDField()
    mrn = serializers.CharField()
    given_name = serializers.CharField()
    family_name = serializers.CharField()
    preferred_name = serializers.CharField()
    date_of_birth = serializers.DateField()
    sex_at_birth = serializers.CharField()
    gender_identity = serializers.CharField()
    email = serializers.CharField(help_text="Email address; empty when not known.")
    phone = serializers.CharField()
    address_line1 = serializers.CharField()
    address_line2 = serializers.CharField()
    city = serializers.CharField()
    region = serializers.CharField()
    postal_code = serializers.CharField()
    country = serializers.CharField()
    status = serializers.CharField()
    ssn_masked = serializers.CharField(help_text="Last four digits only; the full number is never returned.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class PatientInput(serializers.Serializer):
    mrn = serializers.CharField(
        max_length=32, required=False, allow_blank=True, help_text="Leave out to take the organization's next MRN."
    )
    given_name = serializers.CharField(max_length=100)
    family_name = serializers.CharField(max_length=100)
    preferred_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    date_of_birth = serializers.DateField()
    sex_at_birth = serializers.ChoiceField(choices=Patient.SexAtBirth.choices, required=False)
    gender_identity = serializers.CharField(max_length=100, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    phone = serializers.CharField(max_length=30, required=False, allow_blank=True)
    address_line1 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    address_line2 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    region = serializers.CharField(max_length=100, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=10, required=False, allow_blank=True)
    country = serializers.CharField(max_length=2, required=False)
    status = serializers.ChoiceField(choices=Patient.Status.choices, required=False)
    ssn = serializers.CharField(max_length=11, required=False, allow_blank=True, write_only=True)


class PatientRegistrationInput(PatientInput):
    confirm_duplicate = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Register even though a patient with the same name and date of birth exists (a 400 naming "
        "`confirm_duplicate` says so).",
    )


class PatientListApi(APIView):
    pagination_class = ListPagination
    resource = PATIENT

    @extend_schema(
        parameters=filter_parameters(PatientFilter), responses=PatientOutput(many=True), summary="List patients"
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        patients = filter_queryset(PatientFilter, request, selectors.patient_list())
        page = paginator.paginate_queryset(patients, request, view=self)
        return paginator.get_paginated_response(PatientOutput(page, many=True).data)

    @extend_schema(request=PatientRegistrationInput, responses={201: PatientOutput}, summary="Register a patient")
    @idempotent_post
    def post(self, request: Request) -> Response:
        data = PatientRegistrationInput(data=request.data)
        data.is_valid(raise_exception=True)
        patient = services.patient_create(**data.validated_data)
        return Response(PatientOutput(patient).data, status=status.HTTP_201_CREATED)


class PatientDetailApi(APIView):
    resource = PATIENT

    @extend_schema(responses=PatientOutput, summary="A patient")
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = object_or_404(selectors.patient_list(), patient_id)
        return Response(PatientOutput(patient).data)

    @extend_schema(request=PatientInput(partial=True), responses=PatientOutput, summary="Change a patient")
    def patch(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = object_or_404(selectors.patient_list(), patient_id)
        data = PatientInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        patient = services.patient_update(patient=patient, **data.validated_data)
        return Response(PatientOutput(patient).data)

    @extend_schema(responses={204: None}, summary="Soft-delete a patient (restorable until the retention purge)")
    def delete(self, request: Request, patient_id: uuid.UUID) -> Response:
        services.patient_soft_delete(patient=object_or_404(selectors.patient_list(), patient_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PatientRestoreApi(APIView):
    resource = PATIENT

    @extend_schema(request=None, responses=PatientOutput, summary="Restore a soft-deleted patient")
    def post(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = services.patient_restore(patient=object_or_404(selectors.patient_deleted_list(), patient_id))
        return Response(PatientOutput(patient).data)


class SSNRevealOutput(serializers.Serializer):
    ssn = serializers.CharField(help_text="The full number (###-##-####); empty when none is on file.")


class PatientSSNRevealApi(APIView):
    """Each reveal is one PHI access-log row (record type `ssn`); responses are never cached."""

    resource = PATIENT
    resource_actions = {"POST": "reveal_ssn"}

    @extend_schema(request=None, responses=SSNRevealOutput, summary="Reveal a patient's full SSN (logged)")
    def post(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = object_or_404(selectors.patient_list(), patient_id)
        ssn = services.patient_ssn_reveal(request=request, patient=patient)
        response = Response(SSNRevealOutput({"ssn": ssn}).data)
        add_never_cache_headers(response)
        return response


class ConsentOutput(OutputSerializer):
    id = serializers.UUIDField()
    patient_id = serializers.UUIDField()
    consent_type = serializers.CharField()
    granted = serializers.BooleanField()
    granted_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    document_reference = serializers.CharField()
    valid_now = serializers.BooleanField(source="is_valid", help_text="Granted, in force, not expired or revoked.")


class ConsentInput(serializers.Serializer):
    consent_type = serializers.ChoiceField(choices=Consent.Type.choices)
    granted = serializers.BooleanField()
    granted_at = serializers.DateTimeField(required=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    document_reference = serializers.CharField(max_length=500, required=False, allow_blank=True)


class PatientConsentListApi(APIView):
    pagination_class = ListPagination
    resource = CONSENT

    @extend_schema(
        parameters=filter_parameters(ConsentFilter), responses=ConsentOutput(many=True), summary="A patient's consents"
    )
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = object_or_404(selectors.patient_list(), patient_id)
        consents = filter_queryset(ConsentFilter, request, selectors.consent_list().filter(patient=patient))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(consents, request, view=self)
        phi_reads.mark(record_type=PHIAccessLog.RecordType.CONSENT, patient_ids=[patient.id])
        return paginator.get_paginated_response(ConsentOutput(page, many=True).data)

    @extend_schema(request=ConsentInput, responses={201: ConsentOutput}, summary="Record a consent decision")
    @idempotent_post
    def post(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = object_or_404(selectors.patient_list(), patient_id)
        data = ConsentInput(data=request.data)
        data.is_valid(raise_exception=True)
        consent = services.consent_record(patient=patient, **data.validated_data)
        return Response(ConsentOutput(selectors.consent_list().get(pk=consent.pk)).data, status=status.HTTP_201_CREATED)


class ConsentRevokeApi(APIView):
    resource = CONSENT

    @extend_schema(request=None, responses=ConsentOutput, summary="Revoke a consent from now on")
    def post(self, request: Request, consent_id: uuid.UUID) -> Response:
        consent = services.consent_revoke(consent=object_or_404(selectors.consent_list(), consent_id))
        return Response(ConsentOutput(selectors.consent_list().get(pk=consent.pk)).data)
