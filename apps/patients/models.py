from __future__ import annotations

from datetime import date
from typing import ClassVar

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from apps.organizations.audit import TenantHistoricalRecords
from apps.organizations.models import TenantModel, TenantQuerySet

MRN_VALIDATOR = RegexValidator(r"^[A-Za-z0-9-]{1,32}$", "Use 1-32 letters, digits and hyphens.")


class PatientQuerySet(TenantQuerySet):
    def active(self) -> PatientQuerySet:
        """Patients that are not soft-deleted."""
        return self.filter(deleted_at__isnull=True)


PatientManager = models.Manager.from_queryset(PatientQuerySet)


class Patient(TenantModel):
    mrn = models.CharField("MRN", max_length=32, validators=[MRN_VALIDATOR])
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects: ClassVar[PatientManager] = PatientManager()
    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["family_name", "given_name"]
        constraints = [
            # Per organization: another clinic's MRNs neither collide with nor are revealed by ours.
            models.UniqueConstraint(fields=["organization", "mrn"], name="patient_mrn_unique_per_org"),
            # Target of composite foreign keys (organization_id, patient_id) from clinical tables.
            models.UniqueConstraint(fields=["organization", "id"], name="patient_org_id_key"),
        ]
        indexes = [models.Index(fields=["organization", "family_name", "given_name"])]

    def __str__(self) -> str:
        # Deliberately not the name: object reprs end up in messages and logs.
        return f"Patient {self.mrn}"

    def clean(self) -> None:
        if self.date_of_birth and self.date_of_birth > timezone.localdate():
            raise ValidationError({"date_of_birth": "Date of birth cannot be in the future."})
        if self.date_of_birth and self.date_of_birth < date(1900, 1, 1):
            raise ValidationError({"date_of_birth": "Date of birth must be in 1900 or later."})
