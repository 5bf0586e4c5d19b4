"""Who may call an API view: a request needs a tenant context; partners need the view's scope, staff one of
the view's roles. What rows they then see is decided by PostgreSQL (RLS), not here."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from .context import TenantContext
from .roles import STAFF_ROLES


def request_context(request: Request) -> TenantContext | None:
    return getattr(request._request, "tenant", None)


class TenantAccess(BasePermission):
    """Views declare `api_scope` (e.g. "patients") and optionally `read_roles` / `write_roles`."""

    message = "You do not have access to this resource in the active organization."

    def has_permission(self, request: Request, view: Any) -> bool:
        ctx = request_context(request)
        if ctx is None:
            return False
        write = request.method not in SAFE_METHODS
        if ctx.is_partner:
            scope = getattr(view, "api_scope", None)
            if scope is None:
                return False
            return f"{scope}:{'write' if write else 'read'}" in ctx.scopes
        roles = getattr(view, "write_roles" if write else "read_roles", STAFF_ROLES)
        return ctx.role in roles


class StaffOnly(TenantAccess):
    """Endpoints about the signed-in staff user (no partner access)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        ctx = request_context(request)
        return bool(request.user and request.user.is_authenticated and not (ctx and ctx.is_partner))
