from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from apps.organizations.admin_base import TenantModelAdmin
from apps.organizations.roles import Role

from .models import Patient
from .panels import patient_panels


@admin.register(Patient)
class PatientAdmin(TenantModelAdmin):
    list_display = ["mrn", "family_name", "given_name", "date_of_birth"]
    search_fields = ["mrn", "family_name", "given_name"]
    edit_roles = frozenset({Role.OWNER.value, Role.CLINICIAN.value, Role.FRONT_DESK.value})

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        patient = self.get_object(request, object_id)
        panels = patient_panels(request, patient) if patient is not None else []
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "patient_panels": panels})
