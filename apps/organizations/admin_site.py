"""Kura's admin site: open to active members of the active organization, scoped by RLS."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest


class KuraAdminSite(admin.AdminSite):
    site_header = "Kura clinic administration"
    site_title = "Kura"
    index_title = "Clinic administration"

    def has_permission(self, request: HttpRequest) -> bool:
        ctx = getattr(request, "tenant", None)
        return bool(request.user.is_active and request.user.is_staff and ctx is not None and not ctx.is_partner)


class KuraAdminConfig(AdminConfig):
    default_site = "apps.organizations.admin_site.KuraAdminSite"
