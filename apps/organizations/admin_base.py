"""The base for every admin class: permissions from the permission map, people only from the active
organization, and no cross-tenant side tables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Field, Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from simple_history.admin import SimpleHistoryAdmin

from . import selectors
from .access_map import NOBODY, Resource
from .context import TenantContext

# An admin class that names no resource of the map is closed to everyone (and fails the permission matrix test).
UNDECLARED = Resource("undeclared", {"read": NOBODY, "write": NOBODY})


def request_staff_context(request: HttpRequest) -> TenantContext | None:
    """The staff caller's tenant context (None for partners and anonymous requests)."""
    ctx = getattr(request, "tenant", None)
    return ctx if ctx is not None and not ctx.is_partner else None


def request_role(request: HttpRequest) -> str | None:
    ctx = request_staff_context(request)
    return ctx.role if ctx is not None else None


def may(request: HttpRequest, resource: Resource, action: str) -> bool:
    """May the staff caller of this admin request or page do `action` on `resource`?"""
    return resource.allows(request_staff_context(request), action)


def request_organization_id(request: HttpRequest) -> Any:
    ctx = getattr(request, "tenant", None)
    return ctx.organization_id if ctx is not None else None


class MembersOnlyUserChoices:
    """Users are global identities outside row-level security: every user picker of a tenant page (select,
    raw id, autocomplete, a history revert form) offers and accepts only members of the active organization."""

    def get_field_queryset(self, db: str | None, db_field: Field[Any, Any], request: HttpRequest) -> QuerySet[Any]:
        if db_field.related_model is get_user_model():
            return selectors.organization_users(organization_id=request_organization_id(request))
        return super().get_field_queryset(db, db_field, request)  # type: ignore[misc]


def require(request: HttpRequest, resource: Resource, action: str) -> None:
    """403 unless the map allows the staff caller `action` on `resource`."""
    if not may(request, resource, action):
        raise PermissionDenied


def guarded_view(
    admin_site: admin.AdminSite, view: Callable[..., HttpResponse], resource: Resource, action: str
) -> Callable[..., HttpResponse]:
    """An admin page outside the model pages: the site's login check, then the map's answer for `action` on
    `resource` (kept on the view as `access`, so the permission matrix test finds every such page)."""

    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        require(request, resource, action)
        return view(request, *args, **kwargs)

    wrapped = admin_site.admin_view(checked)
    wrapped.access = (resource, action)  # type: ignore[attr-defined]
    return wrapped


class MapPermissions:
    """`has_*_permission` of a model admin or inline, answered by the map for the class's `resource`."""

    resource: ClassVar[Resource] = UNDECLARED

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return may(request, self.resource, "view")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return may(request, self.resource, "view")

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return may(request, self.resource, "add")

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return may(request, self.resource, "change")

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return may(request, self.resource, "delete")


class TenantInline(MembersOnlyUserChoices, MapPermissions, admin.TabularInline):
    """Inline rows: the permissions of the resource they belong to (RLS filters the rows)."""

    extra = 0


class TenantModelAdmin(MembersOnlyUserChoices, MapPermissions, SimpleHistoryAdmin):
    """Rows come filtered by PostgreSQL; what a role may do is the map's answer for `resource`.

    Every admin class of the site derives from it (a test walks the registry), so the `log_*` methods below are
    the one place that keeps Django's global admin log empty.

    `has_history = False` for a model without a change history (its history pages are 404)."""

    has_history: ClassVar[bool] = True

    # simple-history looks the object up before it asks for permission: a role the map denies would get 404 for
    # a row it cannot see and 403 for one it can. The map answers first.
    def history_view(self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None) -> Any:
        require(request, self.resource, "view")
        if not self.has_history:
            raise Http404
        return super().history_view(request, object_id, extra_context)

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: dict[str, Any] | None = None
    ) -> Any:
        require(request, self.resource, "view")
        if not self.has_history:
            raise Http404
        return super().history_form_view(request, object_id, version_id, extra_context)

    # Django's LogEntry table is not tenant-scoped and would keep object names (possibly patient names) and
    # user names outside RLS; simple-history is Kura's audit trail instead.
    def log_addition(self, *args: Any, **kwargs: Any) -> None:
        return None

    def log_change(self, *args: Any, **kwargs: Any) -> None:
        return None

    def log_deletions(self, *args: Any, **kwargs: Any) -> None:
        return None
