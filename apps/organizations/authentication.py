"""DRF authentication for partner API keys. The middleware has already resolved the key (it must, to set
the tenant context before the view's transaction work); this class reports it to DRF."""

from __future__ import annotations

from typing import Any

from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request

from . import second_factor
from .selectors import APIKeyPrincipal


class PartnerUser:
    """Stands in for `request.user` on API-key requests."""

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None

    def __init__(self, principal: APIKeyPrincipal) -> None:
        self.principal = principal

    def __str__(self) -> str:
        return f"partner key {self.principal.id}"


class APIKeyAuthentication(BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        principal = getattr(request._request, "api_key", None)
        if isinstance(principal, APIKeyPrincipal):
            return PartnerUser(principal), principal
        return None

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class VerifiedSessionAuthentication(SessionAuthentication):
    """Staff sessions, once they passed the second factor: a password-only session is refused outright."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is not None and not second_factor.session_is_verified(request._request):
            raise PermissionDenied("Complete the second factor at /account/second-factor/ first.")
        return result


class APIKeyScheme(OpenApiAuthenticationExtension):
    """Documents the API-key header in the OpenAPI schema."""

    target_class = "apps.organizations.authentication.APIKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key kura_<prefix>_<secret>`: a partner key, shown once when issued.",
        }


class VerifiedSessionScheme(SessionScheme):
    """Documents staff sessions in the OpenAPI schema as DRF's session authentication is."""

    target_class = "apps.organizations.authentication.VerifiedSessionAuthentication"
    priority = 0
