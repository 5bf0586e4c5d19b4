"""The base for every admin class: permissions from the permission map, people only from the active
organization, and no cross-tenant side tables."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import AutocompleteSelect
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Field, Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from rest_framework.exceptions import ParseError
from rest_framework.exceptions import ValidationError as APIValidationError
from simple_history.admin import SimpleHistoryAdmin

from . import selectors
from .access_map import NOBODY, Resource
from .context import TenantContext
from .parsers import parse_json

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


class StorableInputs:
    """Form fields that cannot hand PostgreSQL a value it refuses: JSON by the API's rules, autocomplete ids
    checked before their lookup."""

    formfield_overrides: ClassVar[Mapping[type[models.Field[Any, Any]], Mapping[str, Any]]] = STORABLE_FORM_FIELDS

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):  # type: ignore[attr-defined]
            kwargs["widget"] = AutocompleteSelectOfValidIds(db_field, self.admin_site, using=kwargs.get("using"))  # type: ignore[attr-defined]
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]


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


class TenantInline(MembersOnlyUserChoices, StorableInputs, MapPermissions, admin.TabularInline):
    """Inline rows: the permissions of the resource they belong to (RLS filters the rows)."""

    extra = 0


_PLAIN = "plain_"


def _plain_display(field: Any) -> Callable[[Model], str]:
    """A read-only field showing the related row's name without a link."""

    def shown(obj: Model) -> str:
        related = getattr(obj, field.name)
        return "" if related is None else str(related)

    shown.short_description = field.verbose_name  # type: ignore[attr-defined]
    return shown


class TenantModelAdmin(MembersOnlyUserChoices, StorableInputs, MapPermissions, SimpleHistoryAdmin):
    """Rows come filtered by PostgreSQL; what a role may do is the map's answer for `resource`.

    Every admin class of the site derives from it (a test walks the registry), so the `log_*` methods below are
    the one place that keeps Django's global admin log empty.

    `has_history = False` for a model without a change history (its history pages are 404)."""

    has_history: ClassVar[bool] = True

    def __init__(self, model: type[Model], admin_site: admin.AdminSite) -> None:
        super().__init__(model, admin_site)
        for field in model._meta.get_fields():
            if field.many_to_one and field.concrete:
                setattr(self, _PLAIN + field.name, _plain_display(field))

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        """On a page that only shows a row, a related row the caller may not open is named, not linked (Django
        links every read-only foreign key to its change page, which would answer 403)."""
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or self.has_change_permission(request, obj) or hasattr(request, "kura_form_of_a_version"):
            return fieldsets
        return [(title, {**options, "fields": self._shown(request, options["fields"])}) for title, options in fieldsets]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        """The form of the fields above, without the names shown in place of a related row (no form field)."""
        fields = kwargs["fields"] if "fields" in kwargs else flatten_fieldsets(self.get_fieldsets(request, obj))
        if fields is not None:
            kwargs["fields"] = [name for name in fields if not name.startswith(_PLAIN)]
        return super().get_form(request, obj, change, **kwargs)

    def _shown(self, request: HttpRequest, names: Any) -> Any:
        if isinstance(names, list | tuple):
            return type(names)(self._shown(request, name) for name in names)
        field = next((f for f in self.model._meta.concrete_fields if f.name == names and f.many_to_one), None)
        if field is None:
            return names
        related = self.admin_site._registry.get(field.related_model)
        return names if related is not None and related.has_view_permission(request) else _PLAIN + names

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return BoundedChangeList

    def render_change_form(self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        context["has_history"] = self.has_history  # no History link to a page that is 404
        return super().render_change_form(request, context, *args, **kwargs)

    def response_action(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponseBase | None:
        """An action on rows named by ids the primary key cannot hold (a forged form) changes nothing and says
        so, instead of failing in the query (a 500)."""
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        try:
            for value in selected:
                self.model._meta.pk.to_python(value)
        except ValidationError:
            self.message_user(
                request, "The selection names rows that do not exist. Nothing was changed.", messages.ERROR
            )
            return None
        return super().response_action(request, queryset)

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
        request.kura_form_of_a_version = True  # type: ignore[attr-defined]  # simple-history's own form: as declared
        return super().history_form_view(request, object_id, version_id, extra_context)

    # Django's LogEntry table is not tenant-scoped and would keep object names (possibly patient names) and
    # user names outside RLS; simple-history is Kura's audit trail instead.
    def log_addition(self, *args: Any, **kwargs: Any) -> None:
        return None

    def log_change(self, *args: Any, **kwargs: Any) -> None:
        return None

    def log_deletions(self, *args: Any, **kwargs: Any) -> None:
        return None
