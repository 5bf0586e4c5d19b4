from __future__ import annotations

import uuid

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.organizations.access import object_or_404

from . import selectors


class ClinicalEventOutput(serializers.Serializer):
    id = serializers.UUIDField()
    patient_id = serializers.UUIDField()
    activity_type = serializers.CharField()
    clinical_purposes = serializers.ListField(child=serializers.CharField())
    event_name = serializers.CharField()
    method = serializers.CharField()
    body_site = serializers.CharField()
    performed_by = serializers.CharField()
    facility_name = serializers.CharField()
    event_date = serializers.DateTimeField()
    is_synthetic = serializers.BooleanField()
    data_classification = serializers.CharField()


class ClinicalEventListApi(APIView):
    api_scope = "clinical"

    @extend_schema(responses=ClinicalEventOutput(many=True), summary="List clinical events")
    def get(self, request: Request) -> Response:
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(selectors.clinical_event_list(), request, view=self)
        return paginator.get_paginated_response(ClinicalEventOutput(page, many=True).data)


class ClinicalEventDetailApi(APIView):
    api_scope = "clinical"

    @extend_schema(responses=ClinicalEventOutput, summary="A clinical event")
    def get(self, request: Request, event_id: uuid.UUID) -> Response:
        return Response(ClinicalEventOutput(object_or_404(selectors.clinical_event_list(), event_id)).data)
