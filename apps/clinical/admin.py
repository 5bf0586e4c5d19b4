from django.contrib import admin

from apps.organizations.admin_base import TenantModelAdmin
from apps.organizations.roles import Role

from .models import ClinicalEvent


@admin.register(ClinicalEvent)
class ClinicalEventAdmin(TenantModelAdmin):
    list_display = ["event_name", "activity_type", "event_date", "data_classification"]
    list_filter = ["activity_type", "data_classification"]
    edit_roles = frozenset({Role.OWNER.value, Role.CLINICIAN.value})


from .timeline import admin as timeline_admin  # noqa: E402, F401
