"""Notes in the admin: the note page (read-only: the note, its diagnoses and addenda), and the pages that write
a note from an encounter's page, sign it and add an addendum, each through the notes services."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from apps import codes
from apps.organizations.access import object_or_404
from apps.organizations.admin_base import TenantModelAdmin, guarded_view, may
from apps.patients.admin_mixins import PHIAccessLoggedAdmin
from apps.patients.models import PHIAccessLog

from .. import selectors as clinical_selectors
from ..models import TEMPLATE_SECTIONS, ClinicalNote, Encounter, NoteTemplate
from ..models.notes import SECTION_MAX_LENGTH
from ..permissions import CLINICAL_NOTE
from . import selectors, services
from .serializers import person_name


def note_form(template: str) -> type[forms.Form]:
    """A form with a text box per section of `template`, and the diagnoses."""
    fields: dict[str, forms.Field] = {
        key: forms.CharField(
            label=heading, required=False, max_length=SECTION_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 5})
        )
        for key, heading in TEMPLATE_SECTIONS[template]
    }
    fields["diagnosis_codes"] = forms.CharField(
        label="Diagnoses (ICD-10-CM)", required=False, help_text="Codes separated by commas, e.g. F41.1, F32.1."
    )
    return type(f"{template.title()}NoteForm", (forms.Form,), fields)


class AddendumForm(forms.Form):
    text = forms.CharField(label="Addendum", max_length=SECTION_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 6}))


def _service_errors(form: forms.Form, error: ValidationError) -> None:
    """A service's errors on the matching fields: `sections.plan` on `plan`, `diagnosis_codes[1]` on the
    diagnoses; the rest above the form."""
    fields = error.message_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: error.messages}
    for field, messages_ in fields.items():
        name = field.removeprefix("sections.").split("[", 1)[0]
        for message in messages_:
            form.add_error(name if name in form.fields else None, message)


def _split_codes(text: str) -> list[str]:
    return [code for code in (part.strip() for part in text.replace(";", ",").split(",")) if code]


def note_context(note: ClinicalNote) -> dict[str, Any]:
    """What `admin/clinical/note_text.html` shows of a note (with its author and addenda loaded)."""
    return {
        "note": note,
        "note_author": person_name(note.author),
        "note_diagnoses": [(code, codes.icd10cm_description(code)) for code in note.diagnosis_codes],
        "note_addenda": [
            {"author_name": person_name(a.author), "created_at": a.created_at, "text": a.text}
            for a in note.addenda.all()
        ],
    }


def encounter_notes_panel(request: HttpRequest, encounter: Encounter | None) -> SafeString:
    """The notes part of an encounter's page: its notes (template, status, author, time) and links to write,
    sign or amend them."""
    if encounter is None or encounter.pk is None:
        return format_html("{}", "Save the encounter to write notes for it.")
    if not may(request, CLINICAL_NOTE, "view"):
        return format_html("{}", "—")
    rows = format_html_join(
        "",
        '<li><a href="{}">{} note</a> · {} · {} · {}{}</li>',
        (
            (
                reverse("admin:clinical_clinicalnote_change", args=[note.pk]),
                note.get_template_display(),
                note.get_status_display(),
                person_name(note.author),
                f"{note.created_at:%Y-%m-%d %H:%M}",
                _note_action(request, note),
            )
            for note in selectors.encounter_notes(encounter)
        ),
    )
    write = format_html_join(
        " · ",
        '<a href="{}">Write a {} note</a>',
        (
            (reverse("admin:clinical_note_write", args=[encounter.pk, template.value]), template.label)
            for template in NoteTemplate
        ),
    )
    return format_html("<ul>{}</ul><p>{}</p>", rows or format_html("<li>{}</li>", "No notes yet."), write)


def _note_action(request: HttpRequest, note: ClinicalNote) -> SafeString:
    if note.is_signed and may(request, CLINICAL_NOTE, "amend"):
        return format_html(' · <a href="{}">Add an addendum</a>', reverse("admin:clinical_note_amend", args=[note.pk]))
    if not note.is_signed and note.author_id == request.user.pk and may(request, CLINICAL_NOTE, "sign"):
        return format_html(' · <a href="{}">Sign</a>', reverse("admin:clinical_note_sign", args=[note.pk]))
    return format_html("{}", "")


@admin.register(ClinicalNote)
class ClinicalNoteAdmin(PHIAccessLoggedAdmin, TenantModelAdmin):
    record_type = PHIAccessLog.RecordType.CLINICAL_NOTE
    resource = CLINICAL_NOTE
    list_display = ["created_at", "template", "status", "patient", "author_name", "signed_at"]
    list_filter = ["status", "template"]
    list_select_related = ["patient", "author"]
    search_fields = ["patient__mrn"]
    date_hierarchy = "created_at"
    fields = ["patient", "encounter", "note_text"]
    readonly_fields = ["patient", "encounter", "note_text"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return selectors.clinical_note_list().select_related("patient", "encounter")

    @admin.display(description="author")
    def author_name(self, note: ClinicalNote) -> str:
        return person_name(note.author)

    @admin.display(description="note")
    def note_text(self, note: ClinicalNote) -> str:
        return render_to_string("admin/clinical/note_text.html", note_context(note))

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # Sign or amend, below the note (admin/clinical/clinicalnote/change_form.html).
        note = self.get_object(request, object_id)
        actions = _note_action(request, note) if note is not None else ""
        extra_context = {**(extra_context or {}), "note_actions": actions}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self) -> list[URLPattern]:
        site = self.admin_site
        return [
            path(
                "write/<uuid:encounter_id>/<str:template>/",
                guarded_view(site, self.write_view, CLINICAL_NOTE, "write"),
                name="clinical_note_write",
            ),
            path(
                "<uuid:note_id>/sign/",
                guarded_view(site, self.sign_view, CLINICAL_NOTE, "sign"),
                name="clinical_note_sign",
            ),
            path(
                "<uuid:note_id>/addendum/",
                guarded_view(site, self.amend_view, CLINICAL_NOTE, "amend"),
                name="clinical_note_amend",
            ),
            *super().get_urls(),
        ]

    def _page(self, request: HttpRequest, **context: Any) -> HttpResponse:
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, **context}
        return TemplateResponse(request, "admin/clinical/note_page.html", context)

    def write_view(self, request: HttpRequest, encounter_id: uuid.UUID, template: str) -> HttpResponse:
        encounter = object_or_404(clinical_selectors.encounter_list(), encounter_id)
        if template not in TEMPLATE_SECTIONS:
            raise Http404
        form = note_form(template)(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                note = services.clinical_note_create(
                    author=request.user,  # type: ignore[arg-type]  # the admin is for staff users
                    patient=encounter.patient,
                    encounter=encounter,
                    template=template,
                    sections={key: data[key] for key, _heading in TEMPLATE_SECTIONS[template]},
                    diagnosis_codes=_split_codes(data["diagnosis_codes"]),
                )
            except ValidationError as error:
                _service_errors(form, error)
            else:
                messages.success(request, "Draft note saved. Sign it when it is complete.")
                return redirect(reverse("admin:clinical_clinicalnote_change", args=[note.pk]))
        return self._page(
            request,
            title=f"Write a {NoteTemplate(template).label} note",
            form=form,
            submit_label="Save draft",
            encounter_url=reverse("admin:clinical_encounter_change", args=[encounter.pk]),
        )

    def sign_view(self, request: HttpRequest, note_id: uuid.UUID) -> HttpResponse:
        note = object_or_404(selectors.clinical_note_list(), note_id)
        note_url = reverse("admin:clinical_clinicalnote_change", args=[note.pk])
        if request.method == "POST":
            try:
                services.clinical_note_sign(note=note, signer=request.user)  # type: ignore[arg-type]
            except ValidationError as error:
                for message in error.messages:
                    messages.error(request, message)
            else:
                messages.success(request, "Note signed. It can no longer change; corrections are addenda.")
            return redirect(note_url)
        self.log_phi_read(request, [note])
        return self._page(
            request,
            title="Sign note",
            intro="Once signed, the note can no longer change; corrections are added as addenda.",
            submit_label="Sign note",
            note_url=note_url,
            **note_context(note),
        )

    def amend_view(self, request: HttpRequest, note_id: uuid.UUID) -> HttpResponse:
        note = object_or_404(selectors.clinical_note_list(), note_id)
        note_url = reverse("admin:clinical_clinicalnote_change", args=[note.pk])
        form = AddendumForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.note_addendum_create(note=note, author=request.user, text=form.cleaned_data["text"])  # type: ignore[arg-type]
            except ValidationError as error:
                _service_errors(form, error)
            else:
                messages.success(request, "Addendum added.")
                return redirect(note_url)
        self.log_phi_read(request, [note])
        return self._page(
            request,
            title="Add an addendum",
            form=form,
            submit_label="Add addendum",
            note_url=note_url,
            **note_context(note),
        )
