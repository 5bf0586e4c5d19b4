"""Assessments: organization-defined instruments, completed responses and the flags they raise."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from apps.organizations.audit import TenantHistoricalRecords
from apps.organizations.models import ClassifiedTenantModel, TenantModel, TenantQuerySet
from apps.patients.models import PatientScopedManager, PatientScopedTenantManager

from ..timeline.wording import assessment_summary


class AssessmentDefinition(TenantModel):
    """A custom instrument an organization defines (PHQ-4, GAD-7 and PHQ-9 are built in, see scoring.py)."""

    code = models.SlugField(max_length=50)
    name = models.CharField(max_length=200)
    items = models.JSONField(help_text="The questions, in order: a list of strings.")
    min_answer = models.PositiveSmallIntegerField(default=0)
    max_answer = models.PositiveSmallIntegerField()
    bands = models.JSONField(help_text='Severity bands covering every total: [{"min": 0, "max": 4, "label": "low"}]')
    is_active = models.BooleanField(default=True)

    history = TenantHistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="assessmentdefinition_code_per_org"),
            models.UniqueConstraint(fields=["organization", "id"], name="assessmentdefinition_org_id_key"),
            models.CheckConstraint(
                condition=models.Q(max_answer__gt=models.F("min_answer")), name="assessmentdefinition_answer_range"
            ),
            models.CheckConstraint(
                condition=~models.Q(code__in=["phq4", "gad7", "phq9"]), name="assessmentdefinition_not_builtin"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class AssessmentResponse(ClassifiedTenantModel):
    """A completed assessment: answers, total, subscales and severity; shown on the timeline via its event."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.DO_NOTHING, related_name="assessment_responses", db_constraint=False
    )
    instrument = models.CharField(max_length=50, help_text="phq4, gad7, phq9 or the custom definition's code.")
    definition = models.ForeignKey(
        AssessmentDefinition, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False
    )
    answers = ArrayField(models.SmallIntegerField())
    total = models.SmallIntegerField()
    subscales = models.JSONField(default=dict, blank=True)
    severity = models.CharField(max_length=50)
    completed_at = models.DateTimeField()
    health_event = models.ForeignKey(
        "clinical.HealthEvent", on_delete=models.DO_NOTHING, related_name="assessment_responses", db_constraint=False
    )

    objects: ClassVar[PatientScopedTenantManager] = PatientScopedTenantManager()  # type: ignore[assignment]  # consent-gated (PatientScopedManager)
    history = TenantHistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "id"], name="assessmentresponse_org_id_key"),
            models.UniqueConstraint(fields=["organization", "health_event"], name="assessmentresponse_one_per_event"),
            models.CheckConstraint(
                condition=models.Q(data_classification="CLINICAL_PHI"), name="assessmentresponse_is_phi"
            ),
        ]
        indexes = [models.Index(fields=["patient", "-completed_at"], name="assessment_patient_time")]

    def __str__(self) -> str:
        return f"{self.summary}, {timezone.localtime(self.completed_at):%Y-%m-%d} · {self.patient.display_name}"

    @property
    def summary(self) -> str:
        """ "PHQ-9 total 14 (moderate)"."""
        return assessment_summary(self.instrument, self.total, self.severity)


class AssessmentFlagQuerySet(TenantQuerySet):
    def open(self) -> AssessmentFlagQuerySet:
        """Flags no one has reviewed yet."""
        return self.filter(reviewed_at__isnull=True)


AssessmentFlagManager = PatientScopedManager.from_queryset(AssessmentFlagQuerySet)


class AssessmentFlag(ClassifiedTenantModel):
    """A response that needs a clinician's attention (PHQ-9 item 9 above 0)."""

    class Reason(models.TextChoices):
        PHQ9_ITEM9 = "phq9_item9", "PHQ-9 item 9 (thoughts of self-harm) answered above 0"

    class ReviewAction(models.TextChoices):
        CONTACTED_PATIENT = "contacted_patient", "Contacted the patient"
        SAFETY_PLAN = "safety_plan", "Reviewed or updated the safety plan"
        EARLIER_VISIT = "earlier_visit", "Scheduled an earlier visit"
        CRISIS_REFERRAL = "crisis_referral", "Referred to crisis services"
        NO_CURRENT_RISK = "no_current_risk", "Assessed: no current risk"

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.DO_NOTHING, related_name="assessment_flags", db_constraint=False
    )
    response = models.ForeignKey(
        AssessmentResponse, on_delete=models.DO_NOTHING, related_name="flags", db_constraint=False
    )
    reason = models.CharField(max_length=30, choices=Reason.choices)
    raised_at = models.DateTimeField(default=timezone.now)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    review_action = models.CharField(max_length=20, choices=ReviewAction.choices, blank=True)
    review_comment = models.TextField(max_length=2000, blank=True)

    objects: ClassVar[AssessmentFlagManager] = AssessmentFlagManager()  # type: ignore[assignment]  # consent-gated (PatientScopedManager)
    history = TenantHistoricalRecords()

    class Meta:
        verbose_name = "patient needing review"
        verbose_name_plural = "patients needing review"
        constraints = [
            models.UniqueConstraint(fields=["organization", "response", "reason"], name="assessmentflag_once"),
            models.CheckConstraint(
                condition=models.Q(data_classification="CLINICAL_PHI"), name="assessmentflag_is_phi"
            ),
        ]

    def __str__(self) -> str:
        return f"Flag {timezone.localtime(self.raised_at):%Y-%m-%d} · {self.patient.display_name}"
