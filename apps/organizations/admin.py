from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest

from . import second_factor, services
from .admin_base import TenantModelAdmin, request_role
from .models import APIKey, Membership, Organization, Partner
from .roles import Role

User = get_user_model()


@admin.register(Organization)
class OrganizationAdmin(TenantModelAdmin):
    list_display = ["name", "slug", "created_at"]
    readonly_fields = ["slug"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # organizations are created by the operator (seed or owner-role command)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Membership)
class MembershipAdmin(TenantModelAdmin):
    list_display = ["user", "role", "is_active", "created_at"]
    list_filter = ["role", "is_active"]
    autocomplete_fields: list[str] = []
    actions = ["reset_second_factor"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        # The own-memberships policy also shows the user's memberships elsewhere; list this organization's.
        ctx = getattr(request, "tenant", None)
        return super().get_queryset(request).filter(organization_id=ctx.organization_id if ctx else None)

    @admin.action(
        description="Reset the second factor (the member sets it up again at next login)", permissions=["change"]
    )
    def reset_second_factor(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        memberships = list(queryset.select_related("user"))
        for membership in memberships:
            second_factor.second_factor_reset(membership=membership)
        messages.info(request, f"Reset the second factor of {len(memberships)} member(s).")


@admin.register(Partner)
class PartnerAdmin(TenantModelAdmin):
    list_display = ["name", "kind", "created_at"]


@admin.register(APIKey)
class APIKeyAdmin(TenantModelAdmin):
    list_display = ["name", "partner", "prefix", "scopes", "phi_access", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "last_used_at", "revoked_at", "created_by"]
    fields = ["partner", "name", "scopes", "phi_access", "expires_at", *readonly_fields]
    actions = ["revoke"]

    def save_model(self, request: HttpRequest, obj: APIKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        api_key, raw_key = services.api_key_create(
            partner=obj.partner,
            name=obj.name,
            scopes=obj.scopes,
            phi_access=obj.phi_access,
            created_by=request.user,  # type: ignore[arg-type]
            expires_at=obj.expires_at,
        )
        obj.pk = api_key.pk
        obj.prefix = api_key.prefix
        messages.warning(request, f"Copy this key now, it will not be shown again: {raw_key}")

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[APIKey]) -> None:
        for api_key in queryset:
            services.api_key_revoke(api_key=api_key)
        messages.info(request, f"Revoked {queryset.count()} key(s).")


admin.site.unregister(Group)
admin.site.unregister(User)


@admin.register(User)
class OrganizationUserAdmin(UserAdmin):
    """Users are global identities: owners see and edit those with a membership in their organization."""

    fieldsets = ((None, {"fields": ("username", "first_name", "last_name", "email", "is_active")}),)
    list_filter = ["is_active"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        ctx = getattr(request, "tenant", None)
        return super().get_queryset(request).filter(memberships__organization_id=ctx.organization_id if ctx else None)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request_role(request) == Role.OWNER

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request_role(request) == Role.OWNER

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request_role(request) == Role.OWNER

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
