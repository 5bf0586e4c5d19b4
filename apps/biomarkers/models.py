"""Biomarker readings (seed 000): one row per measured value from a voice-analysis, wearable or manual source."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone

from apps.organizations.audit import TenantHistoricalRecords
from apps.organizations.models import ClassifiedTenantModel, organization_field
from apps.patients.models import PatientScopedTenantManager

from .catalog import Source

SERIES_INDEX = "biomarker_timeseries_idx"
SOURCE_READING_UNIQUE = "biomarker_source_reading_unique"


class BiomarkerLog(ClassifiedTenantModel):
    """A reading. `data_classification` comes from the metric catalog (a voice depression score is PHI)."""

    Source = Source

    # The composite key (organization_id, patient_id) to the patient, added in the migration, already proves
    # the organization exists (the patient row references it), and the unique key below starts with the
    # column: neither a second foreign key, checked per row at commit, nor an index of its own pays for itself
    # on a table written 10,000 rows at a time.
    organization = organization_field(db_constraint=False, db_index=False)
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
    # A voided reading (the source or a clinician withdrew it) leaves every result but stays, with its history,
    # and keeps its (source, id): a retried batch that still holds it does not bring it back.
    voided_at = models.DateTimeField(null=True, blank=True)

    # Readings arrive 10,000 at a time, each with an audit row, so the audit table is as large as this one and
    # every index on it is paid per reading. A reading's history is looked up by its id (the admin's history
    # page, retention); nothing reads it by organization (RLS filters the id lookup) or by patient, so those
    # two columns get no index. A database foreign key from the audit rows to the acting user was a deferred
    # trigger per row at commit, for a column that is NULL when a partner key is the actor: the user id stays
    # an indexed column without one, like the partner key's `history_api_key_id`. Deleting a user through the
    # ORM nulls the rows the deleting context can see; other organizations' rows keep the id of the user who
    # acted, which is what an audit trail should say.
    objects: ClassVar[PatientScopedTenantManager] = PatientScopedTenantManager()  # type: ignore[assignment]  # consent-gated (PatientScopedManager)
    history = TenantHistoricalRecords(user_db_constraint=False, no_db_index=["organization", "patient"])

    class Meta:
        ordering = ["captured_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "source", "source_reading_id"], name=SOURCE_READING_UNIQUE),
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
        value = self.value_text if self.value_numeric is None else f"{self.value_numeric:g}"
        when = timezone.localtime(self.captured_at)
        return f"{self.metric_type} {value} {self.unit}, {when:%Y-%m-%d %H:%M} · {self.patient.display_name}"
