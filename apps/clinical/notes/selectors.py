"""Reads for clinical notes (PostgreSQL hides them from the coach and from keys without PHI access)."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from ..models import ClinicalNote, Encounter, NoteAddendum


def clinical_note_list() -> QuerySet[ClinicalNote]:
    """Notes of the active organization with their author and addenda (newest note first), in three queries."""
    addenda = NoteAddendum.objects.for_current_organization().select_related("author").order_by("created_at")
    return (
        ClinicalNote.objects.for_current_organization()
        .select_related("author")
        .prefetch_related(Prefetch("addenda", queryset=addenda))
        .order_by("-created_at")
    )


def encounter_notes(encounter: Encounter) -> QuerySet[ClinicalNote]:
    """The notes written during an encounter, newest first."""
    return clinical_note_list().filter(encounter=encounter)


def notes_to_sign() -> QuerySet[ClinicalNote]:
    """Draft notes with their patient and author, the newest first."""
    drafts = ClinicalNote.objects.for_current_organization().filter(status=ClinicalNote.Status.DRAFT)
    return drafts.select_related("patient", "author", "encounter").order_by("-created_at", "-id")
