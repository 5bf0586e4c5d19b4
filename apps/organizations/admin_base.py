"""The base for every admin class: role-based permissions and no cross-tenant side tables."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.db.models import Model
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from .roles import STAFF_ROLES, Role


def request_role(request: HttpRequest) -> str | None:
    ctx = getattr(request, "tenant", None)
    return ctx.role if ctx is not None and not ctx.is_partner else None


class BoundedChangeList(ChangeList):
    """Django's changelist, with every filter value that cannot become a query treated as an invalid parameter.

    Django refuses most bad filter values itself (its "?e=1" redirect), but the date hierarchy turns
    `?started_at__year=99999999999999999999` (OverflowError) or `?started_at__year=9999` (the year after it is
    out of range: ValueError) into a 500. NUL in any parameter never gets here (`UnstorableTextMiddleware`).
    """

    def get_filters(self, request: HttpRequest) -> Any:
        try:
            return super().get_filters(request)
        except (OverflowError, ValueError) as error:
            raise IncorrectLookupParameters(error) from error


class TenantInline(admin.TabularInline):
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


class TenantModelAdmin(SimpleHistoryAdmin):
    """Rows come filtered by PostgreSQL; what a role may do is declared with `view_roles` / `edit_roles`."""

    view_roles: frozenset[str] = STAFF_ROLES
    edit_roles: frozenset[str] = frozenset({Role.OWNER.value})

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request_role(request) in (self.view_roles | self.edit_roles)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return BoundedChangeList

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return request_role(request) in self.edit_roles

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request_role(request) in self.edit_roles

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request_role(request) in self.edit_roles

    # Django's LogEntry table is not tenant-scoped and would keep object names (possibly patient names)
    # outside RLS; simple-history is Kura's audit trail instead.
    def log_addition(self, *args: Any, **kwargs: Any) -> None:
        return None

    def log_change(self, *args: Any, **kwargs: Any) -> None:
        return None

    def log_deletions(self, *args: Any, **kwargs: Any) -> None:
        return None
