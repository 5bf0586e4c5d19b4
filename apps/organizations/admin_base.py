"""The base for every admin class: role-based permissions, people only from the active organization, and no
cross-tenant side tables."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Field, Model, QuerySet
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from . import selectors
from .roles import STAFF_ROLES, Role


def request_role(request: HttpRequest) -> str | None:
    ctx = getattr(request, "tenant", None)
    return ctx.role if ctx is not None and not ctx.is_partner else None


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


class TenantInline(MembersOnlyUserChoices, admin.TabularInline):
    """Inline rows: any staff role of the organization may see them (RLS filters); `edit_roles` may change them."""

    extra = 0
    edit_roles: frozenset[str] = frozenset({Role.OWNER.value})

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request_role(request) is not None

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request_role(request) in self.edit_roles

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request_role(request) in self.edit_roles

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request_role(request) in self.edit_roles


class TenantModelAdmin(MembersOnlyUserChoices, SimpleHistoryAdmin):
    """Rows come filtered by PostgreSQL; what a role may do is declared with `view_roles` / `edit_roles`.

    Every admin class of the site derives from it (a test walks the registry), so the methods below are the
    one place that keeps Django's global admin log empty."""

    view_roles: frozenset[str] = STAFF_ROLES
    edit_roles: frozenset[str] = frozenset({Role.OWNER.value})

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request_role(request) in (self.view_roles | self.edit_roles)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return request_role(request) in self.edit_roles

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request_role(request) in self.edit_roles

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request_role(request) in self.edit_roles

    # Django's LogEntry table is not tenant-scoped and would keep object names (possibly patient names) and
    # user names outside RLS; simple-history is Kura's audit trail instead.
    def log_addition(self, *args: Any, **kwargs: Any) -> None:
        return None

    def log_change(self, *args: Any, **kwargs: Any) -> None:
        return None

    def log_deletions(self, *args: Any, **kwargs: Any) -> None:
        return None
