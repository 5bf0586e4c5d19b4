"""The one shape of an event, in the feed and in webhook deliveries alike."""

from __future__ import annotations

import uuid
from typing import Any

from rest_framework import serializers

from apps.organizations.rendering import OutputSerializer
from apps.organizations.roles import DataClassification

from .models import DomainEvent
from .types import EVENT_TYPES


class EventOutput(OutputSerializer):
    id = serializers.UUIDField(source="public_id", help_text="The event's id (the same in the feed and in webhooks).")
    type = serializers.CharField(source="event_type")
    subject_type = serializers.CharField()
    subject_id = serializers.UUIDField()
    patient_id = serializers.UUIDField(allow_null=True)
    # DRF's metaclass takes declared fields off the class: `.data` stays the serializer's property.
    data = serializers.JSONField()  # type: ignore[assignment]
    data_classification = serializers.CharField()
    occurred_at = serializers.DateTimeField()

    def render(self, instance: Any, zone: Any) -> dict[str, Any]:
        row: dict[str, Any] = super().render(instance, zone)
        mark_phi_read(instance)
        return row


def mark_phi_read(event: DomainEvent) -> None:
    """A CLINICAL_PHI event tells which patient had what (an assessment, a voice score): shown in the feed or
    sent to a webhook, it is a read of that patient's records for the PHI access log."""
    # Imported here: the PHI log's module imports the patients' services, which record events through this app.
    from apps.patients import phi_reads

    if event.data_classification != DataClassification.CLINICAL_PHI:
        return
    if event.patient_id is not None:
        patient_ids = [event.patient_id]
    else:
        patient_ids = [uuid.UUID(value) for value in event.data.get("patient_ids", [])]
    phi_reads.mark(record_type=EVENT_TYPES[event.event_type].phi_record_type, patient_ids=patient_ids)
