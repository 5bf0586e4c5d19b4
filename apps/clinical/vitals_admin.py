"""The vitals entry page (readings as clinicians write them) and the structured fields of the clinical event
form: purposes as a choice of the vocabulary, internal fields read-only, a vital's reading typed, not JSON."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from apps.organizations.access import object_or_404
from apps.patients.selectors import patient_list

from . import selectors, services, vitals
from .models import ClinicalEvent, Encounter, Vital

PURPOSE_FIELD_HELP = "Why the observation was made."


def purposes_field(**kwargs: Any) -> forms.MultipleChoiceField:
    """Clinical purposes as check boxes of the vocabulary (never free text)."""
    return forms.MultipleChoiceField(
        choices=ClinicalEvent.Purpose.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=PURPOSE_FIELD_HELP,
        **kwargs,
    )


class ClinicalEventForm(forms.ModelForm):
    clinical_purposes = purposes_field()

    class Meta:
        model = ClinicalEvent
        # Not `is_synthetic` nor `clinical_identity_key`: set by the services, shown read-only.
        fields = [
            "patient",
            "encounter",
            "activity_type",
            "clinical_purposes",
            "event_name",
            "method",
            "body_site",
            "performed_by",
            "facility_name",
            "event_date",
            "source_document",
            "data_classification",
        ]


class VitalsForm(forms.Form):
    """A text box per vital sign, with a unit choice where more than one unit is in use."""

    measured_at = forms.DateTimeField(label="Measured at", help_text="e.g. 2026-03-14 09:30")
    encounter = forms.ModelChoiceField(queryset=Encounter.objects.none(), required=False)
    blood_pressure = forms.CharField(label="Blood pressure (mmHg)", required=False, help_text="e.g. 128/82")

    def __init__(self, *args: Any, patient: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["encounter"].queryset = selectors.encounter_list().filter(patient=patient)  # type: ignore[attr-defined]
        for vital_type, kind in vitals.KINDS.items():
            if vital_type in vitals.DERIVED:
                continue
            only_unit = next(iter(kind.units.values())).label if len(kind.units) == 1 else None
            label = f"{kind.label} ({only_unit})" if only_unit else kind.label
            self.fields[vital_type] = forms.CharField(label=label, required=False, max_length=20)
            if not only_unit:
                self.fields[f"{vital_type}_unit"] = forms.ChoiceField(
                    label=f"{kind.label} unit", choices=[(code, unit.label) for code, unit in kind.units.items()]
                )
        self.fields["clinical_purposes"] = purposes_field(initial=[ClinicalEvent.Purpose.MONITORING])

    def readings(self) -> dict[str, tuple[str, str | None]]:
        data = self.cleaned_data
        readings: dict[str, tuple[str, str | None]] = {"blood_pressure": (data["blood_pressure"], None)}
        for vital_type in vitals.KINDS.keys() - vitals.DERIVED:
            readings[vital_type] = (data[vital_type], data.get(f"{vital_type}_unit"))
        return readings


def vitals_entry_view(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Record a patient's vital signs; the encounter's page links here with the encounter chosen."""
    patient = object_or_404(patient_list(), patient_id)
    initial = {
        "measured_at": timezone.localtime().replace(second=0, microsecond=0),
        "encounter": request.GET.get("encounter"),
    }
    form = VitalsForm(request.POST or None, patient=patient, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            event = services.vitals_record(
                patient=patient,
                measured_at=form.cleaned_data["measured_at"],
                readings=form.readings(),
                clinical_purposes=form.cleaned_data["clinical_purposes"],
                encounter=form.cleaned_data["encounter"],
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                for message in errors:
                    form.add_error(field if field in form.fields else None, message)
        else:
            messages.success(request, f"{event.vitals.count()} vital signs recorded.")
            return redirect(reverse("admin:clinical_clinicalevent_change", args=[event.pk]))
    context = {
        **request_admin_context(request),
        "title": "Record vital signs",
        "form": form,
        "submit_label": "Record vitals",
        "intro": "Type readings as you would write them; leave out what was not measured.",
    }
    return TemplateResponse(request, "admin/clinical/note_page.html", context)


def request_admin_context(request: HttpRequest) -> dict[str, Any]:
    from django.contrib import admin

    return {**admin.site.each_context(request), "opts": ClinicalEvent._meta}


def reading_text(vital: Vital) -> str:
    """A stored vital as it is written: "128/82" or "72"."""
    value = vital.measurement_value if isinstance(vital.measurement_value, dict) else {}
    if vital.vital_type == Vital.Type.BLOOD_PRESSURE and {"systolic", "diastolic"} <= set(value):
        return f"{value['systolic']}/{value['diastolic']}"
    return "" if value.get("value") is None else f"{value['value']:g}"


class VitalInlineForm(forms.ModelForm):
    """A vital row typed as a reading ("128/82", "98.6 F", "180 lb"), converted to the record's value and unit."""

    reading = forms.CharField(max_length=20, help_text="e.g. 128/82, 72, 36.8, 98.6 F, 180 lb, 70 in")

    class Meta:
        model = Vital
        fields = ["vital_type", "reading", "measurement_date"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["reading"].initial = reading_text(self.instance)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        vital_type, text = data.get("vital_type"), data.get("reading")
        if not vital_type or not text:
            return data
        try:
            if vital_type == Vital.Type.BLOOD_PRESSURE:
                self.instance.measurement_value, self.instance.unit = vitals.parse_blood_pressure(text), "mmHg"
            elif vital_type in vitals.KINDS:
                value = vitals.parse_measurement(vital_type, text)
                self.instance.measurement_value = value
                self.instance.unit = vitals.KINDS[vital_type].canonical_unit
            else:
                self.add_error("vital_type", "Record this vital through its own form.")
        except vitals.ReadingError as error:
            self.add_error("reading", str(error))
        return data

    def add_error(self, field: str | None, error: Any) -> None:
        # The model's own checks report on `measurement_value` and `unit`, which the form shows as `reading`
        # (or leaves out when the reading was refused already).
        if field is None and isinstance(error, ValidationError) and hasattr(error, "error_dict"):
            renamed: dict[str, Any] = {}
            for name, errors in error.error_dict.items():
                if name in ("measurement_value", "unit"):
                    if "reading" in self.errors:
                        continue
                    name = "reading"
                renamed.setdefault(name, []).extend(errors)
            if not renamed:
                return
            error = ValidationError(renamed)
        super().add_error(field, error)
