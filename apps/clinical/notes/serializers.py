"""Input and output shapes of the notes API."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps import codes
from apps.organizations.rendering import OutputSerializer
from apps.patients import phi_reads
from apps.patients.models import PHIAccessLog

from ..models import TEMPLATE_SECTIONS, ClinicalNote, NoteTemplate
from ..models.notes import MAX_DIAGNOSES, SECTION_MAX_LENGTH


def person_name(user: Any) -> str:
    """How a note names its author: full name, else the user name."""
    return str(user.get_full_name() or user.get_username())


class NoteInput(serializers.Serializer):
    template = serializers.ChoiceField(choices=NoteTemplate.choices)
    sections = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=SECTION_MAX_LENGTH, trim_whitespace=False),
        help_text="Text per section of the template: "
        + "; ".join(f"{t}: {', '.join(k for k, _ in sections)}" for t, sections in TEMPLATE_SECTIONS.items())
        + ".",
    )
    diagnosis_codes = serializers.ListField(
        child=serializers.CharField(max_length=10), required=False, max_length=MAX_DIAGNOSES
    )


class AddendumInput(serializers.Serializer):
    text = serializers.CharField(max_length=SECTION_MAX_LENGTH)


class SectionOutput(serializers.Serializer):
    key = serializers.CharField()
    heading = serializers.CharField()
    text = serializers.CharField()


class DiagnosisOutput(serializers.Serializer):
    code = serializers.CharField()
    description = serializers.CharField()


class AuthorOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class AddendumOutput(OutputSerializer):
    id = serializers.UUIDField()
    text = serializers.CharField()
    author = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    @extend_schema_field(AuthorOutput)
    def get_author(self, addendum: Any) -> dict[str, Any]:
        return {"id": addendum.author_id, "name": person_name(addendum.author)}


class NoteOutput(phi_reads.MarksReads, OutputSerializer):
    phi_record_type = PHIAccessLog.RecordType.CLINICAL_NOTE

    id = serializers.UUIDField()
    patient_id = serializers.UUIDField()
    encounter_id = serializers.UUIDField(allow_null=True)
    template = serializers.CharField()
    status = serializers.CharField()
    author = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    signed_at = serializers.DateTimeField(allow_null=True)
    sections = serializers.SerializerMethodField()
    diagnoses = serializers.SerializerMethodField()
    addenda = AddendumOutput(many=True)

    @extend_schema_field(AuthorOutput)
    def get_author(self, note: ClinicalNote) -> dict[str, Any]:
        return {"id": note.author_id, "name": person_name(note.author)}

    @extend_schema_field(SectionOutput(many=True))
    def get_sections(self, note: ClinicalNote) -> list[dict[str, str]]:
        return [
            {"key": key, "heading": heading, "text": note.sections.get(key, "")}
            for key, heading in TEMPLATE_SECTIONS[note.template]
        ]

    @extend_schema_field(DiagnosisOutput(many=True))
    def get_diagnoses(self, note: ClinicalNote) -> list[dict[str, str]]:
        return [{"code": code, "description": codes.icd10cm_description(code)} for code in note.diagnosis_codes]
