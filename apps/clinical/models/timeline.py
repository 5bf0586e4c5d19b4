"""The patient-reported health-event timeline (seed 001): append-only events, corrected by superseding."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models.fields.json import KT
from django.utils import timezone

from apps.organizations.audit import TenantHistoricalRecords
from apps.organizations.models import ClassifiedTenantModel, TenantQuerySet
from apps.patients.models import PatientScopedManager

from ..timeline.vocabulary import EVENT_SUBTYPES, EventType, Source
from ..timeline.wording import event_summary


def _subtype_rule() -> models.Q:
    rule = models.Q()
    for event_type, subtypes in EVENT_SUBTYPES.items():
        rule |= models.Q(event_type=event_type, event_subtype__in=subtypes)
    return rule


class HealthEventQuerySet(TenantQuerySet):
    def current(self) -> HealthEventQuerySet:
        """Events no later event supersedes (the corrected view of the timeline)."""
        return self.exclude(models.Exists(HealthEvent.objects.filter(supersedes=models.OuterRef("pk"))))

    def newest_first(self) -> HealthEventQuerySet:
        """Newest first with `id` as tie-breaker: a total order, as keyset pagination needs."""
        return self.order_by("-occurred_at", "-id")


HealthEventManager = PatientScopedManager.from_queryset(HealthEventQuerySet)


class HealthEvent(ClassifiedTenantModel):
    """One thing that happened to a patient. Never updated or deleted by the app (the database refuses)."""

    EventType = EventType
    Source = Source

    patient = models.ForeignKey(
        "patients.Patient",
        # The database cascades through the composite key (organization_id, patient_id); the ORM must not try
        # to delete events itself, which the runtime role may not do.
        on_delete=models.DO_NOTHING,
        related_name="health_events",
        db_constraint=False,
    )
    event_type = models.CharField(max_length=20, choices=EventType.choices)
    event_subtype = models.CharField(max_length=30)
    event_data = models.JSONField(default=dict)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)
    source = models.CharField(max_length=20, choices=Source.choices)
    supersedes = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        related_name="corrections",
        # Enforced by the composite key (organization_id, patient_id, supersedes_id): same tenant, same patient.
        db_constraint=False,
    )

    objects: ClassVar[HealthEventManager] = HealthEventManager()  # type: ignore[assignment]  # consent-gated (PatientScopedManager)
    history = TenantHistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "patient", "id"], name="healthevent_org_patient_id_key"),
            # An event is corrected at most once (a later correction supersedes the correction).
            models.UniqueConstraint(fields=["organization", "supersedes"], name="healthevent_superseded_once"),
            models.CheckConstraint(condition=_subtype_rule(), name="healthevent_subtype_valid"),
            models.CheckConstraint(condition=models.Q(source__in=Source.values), name="healthevent_source_valid"),
            models.CheckConstraint(
                condition=~models.Q(event_type=EventType.ASSESSMENT) | models.Q(data_classification="CLINICAL_PHI"),
                name="healthevent_assessment_is_phi",
            ),
        ]
        indexes = [
            # Seed 001's time-series index: one patient's timeline, newest first, `id` breaking ties.
            models.Index(fields=["patient", "-occurred_at", "-id"], name="healthevent_patient_time"),
            models.Index(fields=["organization", "event_type", "event_subtype"], name="healthevent_type"),
            # Seed 001's partial JSONB index on mood.
            models.Index(KT("event_data__mood"), condition=models.Q(event_type="mood"), name="healthevent_mood"),
        ]

    def __str__(self) -> str:
        return f"{self.summary}, {timezone.localtime(self.occurred_at):%Y-%m-%d %H:%M}"

    @property
    def summary(self) -> str:
        """The event in plain words ("Mood: anxious, confidence 7/10")."""
        return event_summary(self.event_type, self.event_subtype, self.event_data)
