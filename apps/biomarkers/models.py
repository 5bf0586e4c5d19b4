"""Biomarker readings (seed 000): one row per measured value from a voice-analysis, wearable or manual source."""

from __future__ import annotations

from django.db import models

from apps.organizations.audit import TenantHistoricalRecords
from apps.organizations.models import ClassifiedTenantModel

from .catalog import Source

SERIES_INDEX = "biomarker_timeseries_idx"


class BiomarkerLog(ClassifiedTenantModel):
    """A reading. `data_classification` comes from the metric catalog (a voice depression score is PHI)."""

    Source = Source

    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.CASCADE,
        related_name="biomarker_logs",
        # Enforced by the composite key (organization_id, patient_id) added in the migration.
        db_constraint=False,
        # The series index starts with patient_id; a second index on it alone would only compete with it.
        db_index=False,
    )
    source = models.CharField(max_length=20, choices=Source.choices)
    # The partner's own id of the reading: a retried batch is recognised by (organization, source, this).
    source_reading_id = models.CharField(max_length=200)
    metric_type = models.CharField(max_length=100)
    value_numeric = models.FloatField(null=True, blank=True)
    # NULL, not '', means "no categorical value" (seed 000 and the biomarker_has_value constraint).
    value_text = models.TextField(null=True, blank=True)  # noqa: DJ001
    unit = models.CharField(max_length=20)
    raw_payload = models.JSONField(default=dict, blank=True)
    captured_at = models.DateTimeField()

    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["captured_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "source", "source_reading_id"], name="biomarker_source_reading_unique"
            ),
            models.CheckConstraint(condition=models.Q(source__in=Source.values), name="biomarker_source_valid"),
            models.CheckConstraint(
                condition=models.Q(value_numeric__isnull=False) | models.Q(value_text__isnull=False),
                name="biomarker_has_value",
            ),
            # NaN and infinities compare equal to themselves in PostgreSQL; this keeps them out.
            models.CheckConstraint(
                condition=models.Q(value_numeric__isnull=True)
                | (models.Q(value_numeric__gt=float("-inf")) & models.Q(value_numeric__lt=float("inf"))),
                name="biomarker_value_finite",
            ),
        ]
        indexes = [models.Index(fields=["patient", "metric_type", "captured_at"], name=SERIES_INDEX)]

    def __str__(self) -> str:
        return f"{self.metric_type} reading {self.pk}"
