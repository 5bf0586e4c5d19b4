"""The outbox of domain events and the webhooks that deliver them.

`DomainEvent` rows are written by the services in the transaction that makes the change (`services.event_record`),
so an event exists exactly when its change committed. Each row carries the id of the transaction that wrote it
(`transaction_id`); the feed orders by (transaction_id, id) and serves only transactions older than every one
still running (`selectors`), which is what makes paging free of gaps and repeats under concurrent writers.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.contrib.postgres.fields import ArrayField
from django.db import models

from apps.organizations.audit import TenantHistoricalRecords
from apps.organizations.encryption import EncryptedTextField
from apps.organizations.models import APIKey, ClassifiedTenantModel, TenantModel
from apps.patients.models import PatientScopedTenantManager


class CurrentTransactionId(models.Func):
    """The id of the transaction running the statement (assigned on its first write; 64-bit, never reused)."""

    template = "(pg_current_xact_id()::text::bigint)"
    output_field = models.BigIntegerField()


class OldestRunningTransactionId(models.Func):
    """The id of the oldest transaction still running when the statement's snapshot was taken: every transaction
    with a lower id has committed or rolled back, and nothing with a lower id can appear later."""

    template = "(pg_snapshot_xmin(pg_current_snapshot())::text::bigint)"
    output_field = models.BigIntegerField()


class DomainEvent(ClassifiedTenantModel):
    """Something partners may care about happened: an append-only row, classified like its subject."""

    # A sequence orders the events of one transaction; the transaction id orders transactions.
    id = models.BigAutoField(primary_key=True)  # type: ignore[assignment]  # not TenantModel's UUID
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    transaction_id = models.BigIntegerField(db_default=CurrentTransactionId(), editable=False)
    event_type = models.CharField(max_length=60)
    subject_type = models.CharField(max_length=40)
    subject_id = models.UUIDField()
    # The patient the event is about (none for a batch of several): partners kept to consenting patients see
    # only their events. No foreign key: the retention purge removes patients, the outbox keeps the ids.
    patient_id = models.UUIDField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()

    objects: ClassVar[PatientScopedTenantManager] = PatientScopedTenantManager()  # type: ignore[assignment]  # consent-gated (PatientScopedManager)

    class Meta:
        indexes = [models.Index(fields=["organization", "transaction_id", "id"], name="domainevent_feed_order")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.subject_type} {self.subject_id}"


class WebhookEndpoint(TenantModel):
    """Where a partner (or the clinic) wants events POSTed, signed with the endpoint's secret."""

    url = models.URLField(max_length=500)
    event_types = ArrayField(models.CharField(max_length=60))
    description = models.CharField(max_length=200, blank=True)
    # Encrypted at rest; shown once, when the endpoint is registered.
    secret = EncryptedTextField(editable=False)
    is_active = models.BooleanField(default=True)
    # Registered through the API with this key: deliveries show only what the key may read. None: by staff.
    api_key = models.ForeignKey(APIKey, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Events after this feed position are still to be fanned out to the endpoint.
    after_transaction_id = models.BigIntegerField(editable=False)
    after_event_id = models.BigIntegerField(default=0, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=200, blank=True, editable=False)

    # The secret never enters the history; the fan-out position is the job's bookkeeping, not an edit.
    history = TenantHistoricalRecords(excluded_fields=["secret", "after_transaction_id", "after_event_id"])

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "id"], name="webhookendpoint_org_id_key")]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(TenantModel):
    """One event for one endpoint: pending until an attempt succeeds, failed when retries run out."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", db_constraint=False
    )
    event = models.ForeignKey(DomainEvent, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Retries stop here (three days after the delivery was created or replayed).
    give_up_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "id"], name="webhookdelivery_org_id_key"),
            models.UniqueConstraint(fields=["endpoint", "event"], name="webhookdelivery_once_per_event"),
        ]
        indexes = [models.Index(fields=["organization", "status", "next_attempt_at"], name="webhookdelivery_due")]

    def __str__(self) -> str:
        return f"{self.get_status_display()} delivery {self.pk}"


class WebhookAttempt(TenantModel):
    """One HTTP attempt of a delivery: its outcome, never a body (bodies may name patients)."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempts", db_constraint=False
    )
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField()
    # The class of failure (`HTTP 500`, `ConnectionRefusedError`, `TimeoutError`, ...); empty on success.
    error_class = models.CharField(max_length=100, blank=True)
    succeeded = models.BooleanField()

    class Meta:
        ordering = ["attempted_at"]

    def __str__(self) -> str:
        return f"Attempt at {self.attempted_at:%Y-%m-%d %H:%M:%S}"
