from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import admin as auth_admin  # noqa: F401 - registers User and Group, removed below
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.urls import reverse

from . import second_factor, selectors, services
from .access_map import API_KEY, INVITATION, MEMBERSHIP, ORGANIZATION, PARTNER
from .admin_base import TenantModelAdmin, may, request_organization_id
from .models import APIKey, Invitation, Membership, Organization, Partner
from .roles import Role

User = get_user_model()


@admin.register(Organization)
class OrganizationAdmin(TenantModelAdmin):
    resource = ORGANIZATION
    list_display = ["name", "slug", "created_at"]
    readonly_fields = ["slug"]


class MembershipForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["role", "is_active"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        stays_owner = cleaned.get("role") == Role.OWNER and cleaned.get("is_active")
        if self.instance.pk and not stays_owner and selectors.is_last_active_owner(membership=self.instance):
            raise forms.ValidationError("The organization needs an active owner: make someone else owner first.")
        return cleaned


@admin.register(Membership)
class MembershipAdmin(TenantModelAdmin):
    """The people of the organization. An owner changes a membership's role and active flag or removes it, never
    the person's identity (username, password, e-mail, active flag: each person's own); people are added only
    by invitation, so no page offers the installation's users."""

    resource = MEMBERSHIP
    list_display = ["user", "full_name", "email", "role", "is_active", "created_at"]
    list_filter = ["role", "is_active"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "user__email"]
    form = MembershipForm
    fields = ["user", "full_name", "email", "role", "is_active"]
    readonly_fields = ["user", "full_name", "email"]
    actions = ["reset_second_factor"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        # The own-memberships policy also shows the user's memberships elsewhere; list this organization's.
        return super().get_queryset(request).filter(organization_id=request_organization_id(request))

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if isinstance(obj, Membership) and selectors.is_last_active_owner(membership=obj):
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Removal one at a time, where the last active owner is kept.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description="Name", ordering="user__last_name")
    def full_name(self, membership: Membership) -> str:
        return membership.user.get_full_name()

    @admin.display(description="E-mail", ordering="user__email")
    def email(self, membership: Membership) -> str:
        return membership.user.email

    @admin.action(
        description="Reset the second factor (the member sets it up again at next login)", permissions=["change"]
    )
    def reset_second_factor(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        memberships = list(queryset.select_related("user"))
        for membership in memberships:
            second_factor.second_factor_reset(membership=membership)
        messages.info(request, f"Reset the second factor of {len(memberships)} member(s).")


@admin.register(Invitation)
class InvitationAdmin(TenantModelAdmin):
    """Owners invite people by e-mail; the link lets them create their identity or add this organization to
    the one they have. Invitations are never edited: revoke one and invite again."""

    resource = INVITATION
    list_display = ["email", "role", "state", "invited_by", "created_at", "expires_at", "accepted_by"]
    list_filter = ["role"]
    list_select_related = ["invited_by", "accepted_by"]
    search_fields = ["email"]
    readonly_fields = ["state", "invited_by", "created_at", "expires_at", "accepted_at", "accepted_by", "revoked_at"]
    actions = ["revoke"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Invitation]:
        return selectors.invitations()

    def get_fields(self, request: HttpRequest, obj: Invitation | None = None) -> list[str]:
        return ["email", "role"] if obj is None else ["email", "role", *self.readonly_fields]

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return may(request, self.resource, "revoke")

    @admin.display(description="State")
    def state(self, invitation: Invitation) -> str:
        return str(Invitation.State(invitation.state).label)

    def save_model(self, request: HttpRequest, obj: Invitation, form: Any, change: bool) -> None:
        invitation, raw_token = services.invitation_create(
            email=obj.email,
            role=obj.role,
            invited_by=request.user,  # type: ignore[arg-type]
        )
        services.invitation_send(
            invitation=invitation, accept_url=request.build_absolute_uri(reverse("invitation", args=[raw_token]))
        )
        obj.pk = invitation.pk
        messages.info(request, f"An invitation was sent to {invitation.email}.")

    @admin.action(description="Revoke the selected invitations", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[Invitation]) -> None:
        for invitation in queryset:
            services.invitation_revoke(invitation=invitation)
        messages.info(request, f"Revoked {queryset.count()} invitation(s).")


@admin.register(Partner)
class PartnerAdmin(TenantModelAdmin):
    resource = PARTNER
    list_display = ["name", "kind", "requires_patient_consent", "created_at"]


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


# Users are global identities: no clinic's admin lists, creates or edits them (people join by invitation, reset
# their own password by e-mail, and change it on the admin's own password page; the installation's operator is
# made with `createsuperuser`). Groups and Django's model permissions are not used: roles are memberships.
admin.site.unregister(Group)
admin.site.unregister(User)
