"""The base for every admin class: role-based permissions and no cross-tenant side tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Model
from django.http import HttpRequest
from rest_framework.exceptions import ParseError
from rest_framework.exceptions import ValidationError as APIValidationError
from simple_history.admin import SimpleHistoryAdmin

from .parsers import parse_json
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


class StorableJSONField(forms.JSONField):
    """The admin's JSON form field, held to the API's JSON rules (`apps.organizations.parsers`): no nesting
    past the limit, no NUL or lone surrogate (`"\\u0000"` as an escape), no NaN, Infinity or integer beyond
    64 bits; each a form error naming where in the value it sits, not a 500 when PostgreSQL refuses the row."""

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and not self.disabled and value not in self.empty_values:
            try:
                parse_json(value.encode("utf-8", "surrogatepass"))
            except ParseError as error:
                raise forms.ValidationError(str(error.detail), code="invalid") from None
            except APIValidationError as error:
                problems = error.detail.items() if isinstance(error.detail, dict) else []
                message = "; ".join(f"{path}: {' '.join(map(str, texts))}" for path, texts in problems)
                raise forms.ValidationError(message or "Enter a valid JSON.", code="invalid") from None
        return super().to_python(value)


class AutocompleteSelectOfValidIds(AutocompleteSelect):
    """Django's autocomplete select, which on a form shown again with errors looked up the submitted id as it
    came (`?patient=not-a-uuid`: a ValidationError while rendering, a 500); ids the field cannot hold are
    dropped before the lookup (the form's own error says the choice is invalid)."""

    def optgroups(self, name: str, value: Sequence[str], attr: dict[str, Any] | None = None) -> list[Any]:
        remote = self.field.remote_field
        target = remote.model._meta.get_field(getattr(remote, "field_name", None) or remote.model._meta.pk.name)
        valid = []
        for item in value:
            try:
                target.to_python(item)
            except ValidationError:
                continue
            valid.append(item)
        return super().optgroups(name, valid, attr)


STORABLE_FORM_FIELDS: dict[type[models.Field[Any, Any]], dict[str, Any]] = {
    models.JSONField: {"form_class": StorableJSONField}
}


class TenantInline(admin.TabularInline):
    """Inline rows: any staff role of the organization may see them (RLS filters); `edit_roles` may change them."""

    extra = 0
    formfield_overrides = STORABLE_FORM_FIELDS
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
    formfield_overrides = STORABLE_FORM_FIELDS

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request_role(request) in (self.view_roles | self.edit_roles)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return BoundedChangeList

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = AutocompleteSelectOfValidIds(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

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
