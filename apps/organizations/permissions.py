"""Who may call an API view, as the permission map says: a view names its `resource` (and, in
`resource_actions`, the methods that are special actions of it); safe methods read, the others write. A
request needs a tenant context. What rows the caller then sees is decided by PostgreSQL (RLS), not here."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from .access_map import Resource
from .context import TenantContext


def request_context(request: Request) -> TenantContext | None:
    return getattr(request._request, "tenant", None)


def view_resource(view: Any) -> Resource | None:
    """The resource an API view acts on (None: the view is not in the map, and nobody may call it)."""
    return getattr(view, "resource", None)


def view_action(view: Any, method: str) -> str:
    """The map's action for `method` on `view`: `read` for safe methods, `write` for the others, unless the view
    names a special action for it in `resource_actions`."""
    special: dict[str, str] = getattr(view, "resource_actions", {})
    if method in special:
        return special[method]
    return "read" if method in SAFE_METHODS else "write"


class TenantAccess(BasePermission):
    """The default permission class: the map's answer for the view's resource and the request's method."""

    message = "You do not have access to this resource in the active organization."

    def has_permission(self, request: Request, view: Any) -> bool:
        resource = view_resource(view)
        if resource is None:
            return False
        return resource.allows(request_context(request), view_action(view, request.method or "GET"))


class SignedInAccess(TenantAccess):
    """About the caller itself: a signed-in user with no organization yet may still ask who they are and pick
    one; with an organization, the map answers."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request_context(request) is None:
            return bool(request.user and request.user.is_authenticated)
        return super().has_permission(request, view)
