"""`/api/v1/me/`: who the caller is, and the staff organization switcher."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.openapi import error_response

from .access_map import API_DOCS, CALLER
from .models import Organization
from .permissions import SignedInAccess, request_context
from .serializers import MembershipSummarySerializer, MeSerializer, OrganizationSwitchSerializer
from .switching import organization_switch


def _me(request: Request) -> dict[str, Any]:
    ctx = request_context(request)
    organization = Organization.objects.filter(pk=ctx.organization_id).first() if ctx else None
    memberships = getattr(request._request, "memberships", [])
    return {
        "kind": "partner" if ctx and ctx.is_partner else "staff",
        "organization": organization and {"id": organization.id, "slug": organization.slug, "name": organization.name},
        "role": ctx.role if ctx else None,
        "scopes": sorted(ctx.scopes) if ctx else [],
        "phi_access": bool(ctx and ctx.can_read_phi),
        "memberships": [
            {
                "organization": {
                    "id": m.organization.id,
                    "slug": m.organization.slug,
                    "name": m.organization.name,
                },
                "role": m.role,
            }
            for m in memberships
        ],
    }


class MeApi(APIView):
    permission_classes = [SignedInAccess]
    resource = CALLER

    @extend_schema(responses=MeSerializer, summary="Who the caller is and which organization it acts for")
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(_me(request)).data)


class OrganizationSwitchApi(APIView):
    permission_classes = [SignedInAccess]
    resource = CALLER

    @extend_schema(
        request=OrganizationSwitchSerializer,
        responses={200: MembershipSummarySerializer, 404: error_response(404)},
        summary="Switch organization",
    )
    def post(self, request: Request) -> Response:
        serializer = OrganizationSwitchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = organization_switch(request=request._request, slug=serializer.validated_data["organization"])
        return Response(
            {
                "organization": {
                    "id": str(membership.organization_id),
                    "slug": membership.organization.slug,
                    "name": membership.organization.name,
                },
                "role": membership.role,
            }
        )


class SchemaApi(SpectacularAPIView):
    resource = API_DOCS


class SwaggerUiApi(SpectacularSwaggerSplitView):
    resource = API_DOCS
