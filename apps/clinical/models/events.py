"""The clinical hub: every clinical detail is a child of a ClinicalEvent (seed 002)."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models

from apps.organizations.audit import TenantHistoricalRecords
from apps.organizations.models import ClassifiedTenantModel


class ClinicalEvent(ClassifiedTenantModel):
    class ActivityType(models.TextChoices):
        OBSERVATION = "observation"
        INTERVENTION = "intervention"

    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.CASCADE,
        related_name="clinical_events",
        # Enforced by the composite key (organization_id, patient_id) added in the migration.
        db_constraint=False,
    )
    activity_type = models.CharField(max_length=20, choices=ActivityType.choices)
    clinical_purposes = ArrayField(models.CharField(max_length=50), default=list)
    event_name = models.CharField(max_length=255)
    method = models.CharField(max_length=100, blank=True)
    body_site = models.CharField(max_length=100, blank=True)
    performed_by = models.CharField(max_length=255, blank=True)
    facility_name = models.CharField(max_length=255, blank=True)
    event_date = models.DateTimeField()
    is_synthetic = models.BooleanField(default=False)
    clinical_identity_key = models.CharField(max_length=255, blank=True)

    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["-event_date"]
        constraints = [
            # Target of the spokes' composite key (event_id, patient_id).
            models.UniqueConstraint(fields=["id", "patient"], name="clinicalevent_id_patient_key"),
        ]
        indexes = [models.Index(fields=["organization", "patient", "-event_date"])]

    def __str__(self) -> str:
        return f"{self.get_activity_type_display()} event {self.pk}"
