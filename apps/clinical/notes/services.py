"""Writes for clinical notes: write a draft from a template, sign it (the author only, once), add addenda.

Every refusal is a `ValidationError` naming the field at fault, raised before anything is written. PostgreSQL
refuses the same things again (clinical migration `notes_lock`), so a path around these services cannot
change a signed note either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps import codes
from apps.events import types as event_types
from apps.events.services import event_record
from apps.organizations.access import require_phi_write
from apps.organizations.roles import DataClassification
from apps.patients.models import Patient

from ..models import TEMPLATE_SECTIONS, ClinicalNote, Encounter, NoteAddendum
from ..models.notes import MAX_DIAGNOSES, SECTION_MAX_LENGTH

ALREADY_SIGNED = "This note is already signed: add an addendum instead."
NOT_THE_AUTHOR = "Only the author of a note can sign or edit it."
ADDENDUM_TO_DRAFT = "A draft is edited, not amended: addenda are for signed notes."


def _clean_sections(template: str, sections: Any) -> dict[str, str]:
    if template not in TEMPLATE_SECTIONS:
        raise ValidationError({"template": f"Use one of: {', '.join(TEMPLATE_SECTIONS)}."})
    keys = [key for key, _heading in TEMPLATE_SECTIONS[template]]
    if not isinstance(sections, Mapping):
        raise ValidationError({"sections": f"Give the sections as an object with the keys {', '.join(keys)}."})
    errors: dict[str, str] = {}
    for key in sorted(set(sections) - set(keys)):
        errors[f"sections.{key}"] = f"Not a section of this template; its sections are {', '.join(keys)}."
    cleaned: dict[str, str] = {}
    for key in keys:
        text = sections.get(key, "")
        if not isinstance(text, str):
            errors[f"sections.{key}"] = "Write this section as text."
        elif len(text) > SECTION_MAX_LENGTH:
            errors[f"sections.{key}"] = f"At most {SECTION_MAX_LENGTH} characters."
        else:
            cleaned[key] = text.strip()
    if not errors and not any(cleaned.values()):
        errors["sections"] = "Write at least one section."
    if errors:
        raise ValidationError(errors)
    return cleaned


def _clean_diagnoses(diagnosis_codes: Sequence[Any]) -> list[str]:
    if len(diagnosis_codes) > MAX_DIAGNOSES:
        raise ValidationError({"diagnosis_codes": f"At most {MAX_DIAGNOSES} diagnoses."})
    errors: dict[str, str] = {}
    cleaned: list[str] = []
    for index, code in enumerate(diagnosis_codes):
        error = codes.icd10cm_error(code) if isinstance(code, str) else codes.ICD10CM_FORMAT
        if error:
            errors[f"diagnosis_codes[{index}]"] = error
            continue
        code = codes.normalize(code)
        if code in cleaned:
            errors[f"diagnosis_codes[{index}]"] = "This diagnosis is listed twice."
        cleaned.append(code)
    if errors:
        raise ValidationError(errors)
    return cleaned


def clinical_note_create(
    *,
    author: User,
    patient: Patient,
    template: str,
    sections: Mapping[str, Any],
    diagnosis_codes: Sequence[str] = (),
    encounter: Encounter | None = None,
) -> ClinicalNote:
    """Write a draft note for a patient, during an encounter of theirs or standalone."""
    require_phi_write(DataClassification.CLINICAL_PHI)  # a note is always CLINICAL_PHI
    if encounter is not None and encounter.patient_id != patient.pk:
        raise ValidationError({"encounter": "The encounter belongs to another patient."})
    note = ClinicalNote(
        patient=patient,
        encounter=encounter,
        template=template,
        sections=_clean_sections(template, sections),
        diagnosis_codes=_clean_diagnoses(diagnosis_codes),
        author=author,
        data_classification=DataClassification.CLINICAL_PHI,
    )
    with transaction.atomic():
        note.save()
    return note


def _locked_draft(note: ClinicalNote, user: User) -> ClinicalNote:
    """The note re-read under a row lock (two signers cannot both pass the checks), if `user` may change it."""
    current = ClinicalNote.objects.select_for_update().get(pk=note.pk)
    if current.is_signed:
        raise ValidationError({"status": ALREADY_SIGNED})
    if current.author_id != user.pk:
        raise ValidationError({"author": NOT_THE_AUTHOR})
    return current


def clinical_note_update(
    *,
    note: ClinicalNote,
    editor: User,
    sections: Mapping[str, Any],
    diagnosis_codes: Sequence[str] = (),
) -> ClinicalNote:
    """Rewrite a draft's sections and diagnoses (its author only)."""
    cleaned_sections = _clean_sections(note.template, sections)
    cleaned_codes = _clean_diagnoses(diagnosis_codes)
    with transaction.atomic():
        draft = _locked_draft(note, editor)
        draft.sections, draft.diagnosis_codes = cleaned_sections, cleaned_codes
        draft.save(update_fields=["sections", "diagnosis_codes", "updated_at"])
    return draft


def clinical_note_sign(*, note: ClinicalNote, signer: User) -> ClinicalNote:
    """Sign a draft (its author only): from then on PostgreSQL refuses any change to it."""
    with transaction.atomic():
        draft = _locked_draft(note, signer)
        draft.status, draft.signed_at = ClinicalNote.Status.SIGNED, timezone.now()
        draft.save(update_fields=["status", "signed_at", "updated_at"])
        event_record(
            event_type=event_types.NOTE_SIGNED,
            subject_id=draft.pk,
            patient_id=draft.patient_id,
            data_classification=DataClassification.CLINICAL_PHI,
            data={"template": draft.template, "encounter_id": str(draft.encounter_id) if draft.encounter_id else None},
        )
    return draft


def note_addendum_create(*, note: ClinicalNote, author: User, text: str) -> NoteAddendum:
    """Add a correction or late entry to a signed note; the note stays as it was signed."""
    require_phi_write(DataClassification.CLINICAL_PHI)
    if not note.is_signed:
        raise ValidationError({"note": ADDENDUM_TO_DRAFT})
    text = text.strip() if isinstance(text, str) else ""
    if not text:
        raise ValidationError({"text": "Write the addendum."})
    if len(text) > SECTION_MAX_LENGTH:
        raise ValidationError({"text": f"At most {SECTION_MAX_LENGTH} characters."})
    addendum = NoteAddendum(
        note=note,
        patient_id=note.patient_id,
        organization_id=note.organization_id,
        text=text,
        author=author,
        data_classification=DataClassification.CLINICAL_PHI,
    )
    with transaction.atomic():
        addendum.save()
    return addendum
