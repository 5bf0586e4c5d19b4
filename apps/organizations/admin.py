from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest

from . import services
from .access_map import API_KEY, MEMBERSHIP, ORGANIZATION, PARTNER, USER
from .admin_base import MapPermissions, TenantModelAdmin, may
from .models import APIKey, Membership, Organization, Partner

User = get_user_model()


@admin.register(Organization)
class OrganizationAdmin(TenantModelAdmin):
    resource = ORGANIZATION
    list_display = ["name", "slug", "created_at"]
    readonly_fields = ["slug"]


@admin.register(Membership)
class MembershipAdmin(TenantModelAdmin):
    resource = MEMBERSHIP
    list_display = ["user", "role", "is_active", "created_at"]
    list_filter = ["role", "is_active"]
    autocomplete_fields: list[str] = []

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        # The own-memberships policy also shows the user's memberships elsewhere; list this organization's.
        ctx = getattr(request, "tenant", None)
        return super().get_queryset(request).filter(organization_id=ctx.organization_id if ctx else None)


@admin.register(Partner)
class PartnerAdmin(TenantModelAdmin):
    resource = PARTNER
    list_display = ["name", "kind", "created_at"]


@admin.register(APIKey)
class APIKeyAdmin(TenantModelAdmin):
    resource = API_KEY
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

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return may(request, self.resource, "revoke")

    @admin.action(description="Revoke the selected keys", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[APIKey]) -> None:
        for api_key in queryset:
            services.api_key_revoke(api_key=api_key)
        messages.info(request, f"Revoked {queryset.count()} key(s).")


admin.site.unregister(Group)
admin.site.unregister(User)


@admin.register(User)
class OrganizationUserAdmin(MapPermissions, UserAdmin):
    """Users are global identities: owners see and edit those with a membership in their organization."""

    resource = USER

    fieldsets = ((None, {"fields": ("username", "first_name", "last_name", "email", "is_active")}),)
    list_filter = ["is_active"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        ctx = getattr(request, "tenant", None)
        return super().get_queryset(request).filter(memberships__organization_id=ctx.organization_id if ctx else None)
