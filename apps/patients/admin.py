"""Clinic staff's patient screens. Rows come filtered by PostgreSQL; views of a record are PHI-access logged."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html

from apps.organizations import context
from apps.organizations.admin_base import TenantInline, TenantModelAdmin, guarded_view

from . import selectors, services
from .admin_mixins import PHIAccessLoggedAdmin, SearchesByPatient
from .chart import patient_chart
from .models import Consent, Patient, PHIAccessLog
from .permissions import CONSENT, PATIENT, PHI_ACCESS_LOG
from .selectors import patient_search_condition


class PatientForm(forms.ModelForm):
    # The SSN is never sent back to the browser; leaving the box empty keeps the number on file.
    ssn = forms.CharField(label="SSN", required=False, max_length=11, widget=forms.PasswordInput(render_value=False))
    # Hidden until a registration matches a patient's name and birth date; then shown beside that message.
    confirm_duplicate = forms.BooleanField(label="This is a different person", required=False, widget=forms.HiddenInput)

    class Meta:
        model = Patient
        fields = [
            "mrn",
            "status",
            "given_name",
            "family_name",
            "preferred_name",
            "date_of_birth",
            "sex_at_birth",
            "gender_identity",
            "email",
            "phone",
            "address_line1",
            "address_line2",
            "city",
            "region",
            "postal_code",
            "country",
            "ssn",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        masked = self.instance.ssn_masked if self.instance.pk else ""
        self.fields["ssn"].help_text = f"On file: {masked}. Leave empty to keep it." if masked else "Optional."
        if self.instance._state.adding:
            self.fields["mrn"].required = False
            self.fields["mrn"].help_text = "Leave empty to assign the next MRN."

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        adding = self.instance._state.adding
        identity = {name: cleaned.get(name) for name in ("given_name", "family_name", "date_of_birth")}
        try:
            services.patient_registration_check(
                mrn=cleaned.get("mrn") or "",
                **identity,  # type: ignore[arg-type]
                # Only a registration asks: a patient's own change of name is not a second patient.
                confirm_duplicate=bool(cleaned.get("confirm_duplicate")) or not adding,
                exclude_id=None if adding else self.instance.pk,
            )
        except ValidationError as error:
            if "confirm_duplicate" in error.message_dict:
                self._show_duplicate_confirmation(identity)
            self.add_error(None, error)
        return cleaned

    def _show_duplicate_confirmation(self, identity: dict[str, Any]) -> None:
        field = self.fields["confirm_duplicate"]
        field.widget = forms.CheckboxInput()
        already = [str(patient) for patient in selectors.patient_same_person_list(**identity)[:5]]
        # The bound field read its help text when validation made it: set on both.
        field.help_text = self["confirm_duplicate"].help_text = f"Already registered: {'; '.join(already)}."

    def clean_ssn(self) -> str:
        entered: str = self.cleaned_data.get("ssn", "")
        return entered or self.instance.ssn


class RecordStateFilter(admin.SimpleListFilter):
    title = "record"
    parameter_name = "record"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("deleted", "Deleted (restorable)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(deleted_at__isnull=self.value() != "deleted")


class ConsentInline(TenantInline):
    model = Consent
    resource = CONSENT
    # A consent is revoked (kept in the record), never deleted from here.
    can_delete = False
    fields = ["consent_type", "granted", "granted_at", "expires_at", "revoked_at", "document_reference", "valid_now"]
    readonly_fields = ["valid_now"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Consent]:
        return super().get_queryset(request).filter(deleted_at__isnull=True).with_validity()  # type: ignore[attr-defined]

    @admin.display(boolean=True, description="valid today")
    def valid_now(self, consent: Consent) -> bool | None:
        return getattr(consent, "is_valid", None)


@admin.register(Patient)
class PatientAdmin(PHIAccessLoggedAdmin, TenantModelAdmin):
    record_type = PHIAccessLog.RecordType.PATIENT
    form = PatientForm
    list_display = ["family_name", "given_name", "date_of_birth", "mrn", "sex_at_birth", "status"]
    list_filter = [RecordStateFilter, "status", "sex_at_birth"]
    search_fields = ["mrn", "family_name", "given_name"]
    search_help_text = (
        "Name in any order, phone number, the end of an MRN, or date of birth (MM/DD/YYYY or YYYY-MM-DD)."
    )
    fieldsets = [
        (None, {"fields": ["mrn", "status"]}),
        (
            "Demographics",
            {
                "fields": [
                    "given_name",
                    "family_name",
                    "preferred_name",
                    "date_of_birth",
                    "sex_at_birth",
                    "gender_identity",
                    "confirm_duplicate",
                ]
            },
        ),
        (
            "Contact",
            {
                "fields": [
                    "email",
                    "phone",
                    "address_line1",
                    "address_line2",
                    "city",
                    "region",
                    "postal_code",
                    "country",
                ]
            },
        ),
        ("Identifiers", {"fields": ["ssn_on_file", "ssn"]}),
    ]
    readonly_fields = ["ssn_on_file"]
    inlines = [ConsentInline]
    actions = ["restore_patients"]
    resource = PATIENT

    def get_fieldsets(self, request: HttpRequest, obj: Patient | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        # Only a registration may need the duplicate confirmation; read-only pages show every field's value,
        # the SSN only as `ssn_on_file`, masked.
        hidden = set() if obj is None else {"confirm_duplicate"}
        if obj is None or not self.has_change_permission(request, obj):
            hidden.add("ssn")
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f not in hidden]})
            for name, options in fieldsets
        ]

    def save_model(self, request: HttpRequest, obj: Patient, form: Any, change: bool) -> None:
        if not change and not obj.mrn:
            obj.mrn = services.patient_mrn_next()
        services.patient_save(patient=obj, changed_fields=list(form.changed_data))

    @admin.display(description="SSN on file")
    def ssn_on_file(self, patient: Patient) -> str:
        """Masked for every role; permitted roles reveal the number with a separate, logged POST."""
        masked = patient.ssn_masked if patient.pk else ""
        if not masked:
            return "None on file"
        # Django calls this with the object alone: the request's caller is the active tenant context.
        if not PATIENT.allows(context.current(), "reveal_ssn"):
            return masked
        # The change page is a form already: a button with its own action posts the CSRF token to the reveal.
        return format_html(
            '{} <button type="submit" formaction="{}" formmethod="post" formnovalidate class="button">Reveal</button>',
            masked,
            reverse("admin:patients_patient_ssn_reveal", args=[patient.pk]),
        )

    def get_urls(self) -> list[URLPattern]:
        reveal = path(
            "<uuid:patient_id>/ssn/reveal/",
            guarded_view(self.admin_site, self.ssn_reveal_view, PATIENT, "reveal_ssn"),
            name="patients_patient_ssn_reveal",
        )
        demographics = path(
            "<uuid:patient_id>/demographics/",
            guarded_view(self.admin_site, self.demographics_page, PATIENT, "view"),
            name="patients_patient_demographics",
        )
        return [reveal, demographics, *super().get_urls()]

    def ssn_reveal_view(self, request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
        """POST only: show one patient's full SSN to a permitted role and log the reveal."""
        patient = self.get_object(request, str(patient_id))
        if patient is None or not self.has_view_permission(request, patient):
            raise Http404  # another organization's patient and a missing one alike, whatever the method
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        ssn = services.patient_ssn_reveal(request=request, patient=patient)
        page = {
            **self.admin_site.each_context(request),
            "title": "Social Security number",
            "patient": patient,
            "ssn": ssn,
            "opts": self.opts,
        }
        response = TemplateResponse(request, "admin/patients/patient/ssn_reveal.html", page)
        add_never_cache_headers(response)
        return response

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        if not search_term.strip():
            return queryset, False
        return queryset.filter(patient_search_condition(search_term)), False

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Opening a patient shows the chart; the form (a POST here too) is the demographics page."""
        if request.method in ("GET", "HEAD"):
            return self.chart_view(request, object_id)
        return self.demographics_view(request, object_id, form_url, extra_context)

    def chart_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The patient's chart: header, then the sections the caller's role may see (each read logged)."""
        patient = self.get_object(request, object_id)
        if patient is None or not self.has_view_permission(request, patient):
            raise Http404  # another organization's patient and a missing one alike
        self.log_phi_read(request, [patient])
        chart = patient_chart(request, patient)
        page = {
            **self.admin_site.each_context(request),
            "title": "Chart",
            "subtitle": patient.display_name,
            "chart": chart,
            "patient": patient,
            "opts": self.opts,
            "has_change_permission": self.has_change_permission(request, patient),
        }
        response = TemplateResponse(request, "admin/patients/patient/chart.html", page)
        add_never_cache_headers(response)
        return response

    def demographics_page(self, request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
        return self.demographics_view(request, str(patient_id))

    def demographics_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Demographics, contact, identifiers and consents: Django's change form (PHIAccessLoggedAdmin logs it)."""
        if self.get_object(request, object_id) is None:
            raise Http404  # another organization's patient and a missing one alike
        return super().change_view(request, object_id, form_url, extra_context)

    def response_change(self, request: HttpRequest, obj: Patient) -> HttpResponse:
        # "Save" goes back to the chart, where the reader came from, rather than to the list.
        response = super().response_change(request, obj)
        if "_continue" not in request.POST and "_addanother" not in request.POST:
            return HttpResponseRedirect(reverse("admin:patients_patient_change", args=[obj.pk]))
        return response

    def patient_id_of(self, obj: Patient) -> Any:
        return obj.pk

    # Deleting a patient from the admin is a soft delete; the purge command removes it after retention.
    def delete_model(self, request: HttpRequest, obj: Patient) -> None:
        services.patient_soft_delete(patient=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Patient]) -> None:
        for patient in queryset:
            services.patient_soft_delete(patient=patient)

    @admin.action(description="Restore selected deleted patients", permissions=["change"])
    def restore_patients(self, request: HttpRequest, queryset: QuerySet[Patient]) -> None:
        restored = 0
        for patient in queryset.filter(deleted_at__isnull=False):
            try:
                services.patient_restore(patient=patient)
            except Exception as error:
                self.message_user(
                    request, f"{patient}: {'; '.join(getattr(error, 'messages', ['not restored']))}", messages.ERROR
                )
            else:
                restored += 1
        self.message_user(request, f"Restored {restored} patient(s).")


@admin.register(Consent)
class ConsentAdmin(SearchesByPatient, TenantModelAdmin):
    list_display = ["patient", "consent_type", "granted", "granted_at", "expires_at", "revoked_at"]
    list_filter = ["consent_type", "granted"]
    list_select_related = ["patient"]
    search_fields = ["patient__mrn"]
    resource = CONSENT


@admin.register(PHIAccessLog)
class PHIAccessLogAdmin(TenantModelAdmin):
    """Owners review who read what; nobody edits it (the database refuses it anyway)."""

    list_display = [
        "accessed_at",
        "user",
        "api_key",
        "role",
        "patient",
        "record_type",
        "record_count",
        "method",
        "path",
    ]
    list_filter = [
        ("user", admin.RelatedOnlyFieldListFilter),
        ("patient", admin.RelatedOnlyFieldListFilter),
        "record_type",
        "role",
    ]
    list_select_related = ["user", "api_key", "patient"]
    search_fields = ["patient__mrn", "user__username"]
    date_hierarchy = "accessed_at"
    resource = PHI_ACCESS_LOG
    has_history = False  # the log is its own audit trail
