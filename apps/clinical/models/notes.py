"""Clinical notes: written from a template, signed by their author, then locked; corrections are addenda.

PostgreSQL holds the lock: a trigger refuses the runtime role any UPDATE or DELETE of a row whose status is
`signed` (clinical migration `notes_lock`), and addenda are append-only (no UPDATE or DELETE grant). A note names
its patient and, when written during a visit, its encounter; composite keys keep both in its organization and
the encounter the same patient's.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.organizations.audit import TenantHistoricalRecords
from apps.organizations.models import ClassifiedTenantModel
from apps.patients.models import PatientScopedTenantManager


class NoteTemplate(models.TextChoices):
    SOAP = "soap", "SOAP"
    DAP = "dap", "DAP"
    BIRP = "birp", "BIRP"
    FREE_TEXT = "free_text", "Free text"


# The sections each template is written in, in order: (key in `sections`, heading).
TEMPLATE_SECTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    NoteTemplate.SOAP: (
        ("subjective", "Subjective"),
        ("objective", "Objective"),
        ("assessment", "Assessment"),
        ("plan", "Plan"),
    ),
    NoteTemplate.DAP: (("data", "Data"), ("assessment", "Assessment"), ("plan", "Plan")),
    NoteTemplate.BIRP: (
        ("behavior", "Behavior"),
        ("intervention", "Intervention"),
        ("response", "Response"),
        ("plan", "Plan"),
    ),
    NoteTemplate.FREE_TEXT: (("text", "Note"),),
}
SECTION_MAX_LENGTH = 20_000
MAX_DIAGNOSES = 12


def _patient_link(related_name: str) -> Any:
    # Enforced by the composite key (organization_id, patient_id) added in the migration.
    return models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name=related_name, db_constraint=False
    )


class ClinicalNote(ClassifiedTenantModel):
    """A progress note. A draft is its author's to edit; once signed it never changes."""

    class Status(models.TextChoices):
        DRAFT = "draft"
        SIGNED = "signed"

    patient = _patient_link("clinical_notes")
    encounter = models.ForeignKey(
        "clinical.Encounter",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="notes",
        # Enforced by the composite key (encounter_id, patient_id) -> encounter (id, patient_id).
        db_constraint=False,
    )
    template = models.CharField(max_length=10, choices=NoteTemplate.choices)
    sections = models.JSONField(help_text="The template's sections: {section key: text}.")
    diagnosis_codes = ArrayField(models.CharField(max_length=8), default=list, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False)
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.DRAFT, editable=False)
    signed_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects: ClassVar[PatientScopedTenantManager] = PatientScopedTenantManager()  # type: ignore[assignment]  # consent-gated (PatientScopedManager)
    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Target of the addenda's composite key (organization_id, patient_id, note_id).
            models.UniqueConstraint(fields=["organization", "patient", "id"], name="clinicalnote_org_patient_id_key"),
            models.CheckConstraint(condition=Q(data_classification="CLINICAL_PHI"), name="clinicalnote_is_phi"),
            models.CheckConstraint(
                condition=Q(status="draft", signed_at__isnull=True) | Q(status="signed", signed_at__isnull=False),
                name="clinicalnote_signed_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "patient", "-created_at"]),
            models.Index(fields=["encounter"]),
            models.Index(fields=["organization", "author", "status"]),
        ]

    def __str__(self) -> str:
        written = timezone.localtime(self.created_at)
        return f"{self.get_template_display()} note {written:%Y-%m-%d} · {self.patient.display_name}"

    @property
    def is_signed(self) -> bool:
        return self.status == self.Status.SIGNED

    def section_rows(self) -> list[tuple[str, str]]:
        """(heading, text) of each section of the note's template, in the template's order."""
        return [(heading, self.sections.get(key, "")) for key, heading in TEMPLATE_SECTIONS[self.template]]


class NoteAddendum(ClassifiedTenantModel):
    """A later addition to a signed note (a correction or a late entry); the note itself stays as signed."""

    note = models.ForeignKey(
        ClinicalNote,
        on_delete=models.CASCADE,
        related_name="addenda",
        # Enforced by the composite key (organization_id, patient_id, note_id) -> note.
        db_constraint=False,
    )
    patient = _patient_link("clinical_note_addenda")
    text = models.TextField(max_length=SECTION_MAX_LENGTH)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False)

    objects: ClassVar[PatientScopedTenantManager] = PatientScopedTenantManager()  # type: ignore[assignment]  # consent-gated (PatientScopedManager)
    history = TenantHistoricalRecords()

    class Meta:
        verbose_name_plural = "note addenda"
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(data_classification="CLINICAL_PHI"), name="noteaddendum_is_phi")
        ]
        indexes = [models.Index(fields=["note", "created_at"])]

    def __str__(self) -> str:
        return f"Addendum {timezone.localtime(self.created_at):%Y-%m-%d %H:%M}"
