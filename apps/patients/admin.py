from django.contrib import admin

from apps.organizations.admin_base import TenantModelAdmin
from apps.organizations.roles import Role

from .models import Patient


@admin.register(Patient)
class PatientAdmin(TenantModelAdmin):
    list_display = ["mrn", "family_name", "given_name", "date_of_birth"]
    search_fields = ["mrn", "family_name", "given_name"]
    edit_roles = frozenset({Role.OWNER.value, Role.CLINICIAN.value, Role.FRONT_DESK.value})
