"""Giving an assessment in the admin: each item with its wording and answer options, scored by the same service
the API uses (PHQ-9 item 9 above 0 raises the review flag as it does there)."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from apps.organizations.access import object_or_404
from apps.patients.selectors import patient_list

from ..models import AssessmentResponse
from . import scoring, selectors, services


def instruments() -> dict[str, scoring.Instrument]:
    """The instruments that can be given: the built-in ones and the organization's active definitions."""
    found = dict(scoring.BUILTIN_INSTRUMENTS)
    found.update({d.code: scoring.custom_instrument(d) for d in selectors.assessment_definition_list()})
    return found


def answer_label(instrument: scoring.Instrument, answer: int) -> str:
    """ "2 · More than half the days" (the number alone where the instrument names no options)."""
    position = answer - instrument.min_answer
    if 0 <= position < len(instrument.answer_labels):
        return f"{answer} · {instrument.answer_labels[position]}"
    return str(answer)


class AdministerForm(forms.Form):
    """One question per item, its options as radio buttons."""

    def __init__(self, *args: Any, instrument: scoring.Instrument, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instrument = instrument
        options = [
            (answer, answer_label(instrument, answer))
            for answer in range(instrument.min_answer, instrument.max_answer + 1)
        ]
        for number, wording in enumerate(instrument.items, start=1):
            self.fields[f"item_{number}"] = forms.TypedChoiceField(
                label=f"{number}. {wording}", choices=options, coerce=int, widget=forms.RadioSelect
            )

    def answers(self) -> list[int]:
        return [self.cleaned_data[f"item_{number}"] for number in range(1, len(self.instrument.items) + 1)]


def administer_view(request: HttpRequest, patient_id: uuid.UUID, instrument: str) -> HttpResponse:
    """Give `instrument` to a patient; the stored response's page follows."""
    patient = object_or_404(patient_list(), patient_id)
    chosen = instruments().get(instrument)
    if chosen is None:
        raise Http404
    form = AdministerForm(request.POST or None, instrument=chosen)
    if request.method == "POST" and form.is_valid():
        try:
            response = services.assessment_complete(patient=patient, instrument=chosen.code, answers=form.answers())
        except ValidationError as error:
            for messages_ in error.message_dict.values():
                for message in messages_:
                    form.add_error(None, message)
        else:
            flagged = " It raised a flag for review." if response.flags.exists() else ""
            messages.success(request, f"Total {response.total} ({response.severity}).{flagged}")
            return redirect(reverse("admin:clinical_assessmentresponse_change", args=[response.pk]))
    context = {
        **admin.site.each_context(request),
        "opts": AssessmentResponse._meta,
        "title": chosen.name,
        "intro": "Over the last 2 weeks, how often has the patient been bothered by the following problems?"
        if chosen.answer_labels == scoring.FREQUENCY_LABELS
        else "",
        "form": form,
        "submit_label": "Score and save",
    }
    return TemplateResponse(request, "admin/clinical/note_page.html", context)


def answered_items(response: AssessmentResponse) -> SafeString:
    """A response's answers beside the items' wording."""
    chosen = instruments().get(response.instrument)
    if chosen is None or len(chosen.items) != len(response.answers):
        return format_html("{}", ", ".join(str(a) for a in response.answers))
    return format_html(
        "<ol>{}</ol>",
        format_html_join(
            "",
            "<li>{}: <strong>{}</strong></li>",
            (
                (wording, answer_label(chosen, answer))
                for wording, answer in zip(chosen.items, response.answers, strict=True)
            ),
        ),
    )
