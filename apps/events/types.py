"""The domain events Kura publishes: each type, what it is about, and whose read rule decides who sees it.

An event is as visible as its subject: a caller sees a type only if the permission map lets it read the subject's
resource (for a partner key, the subject's `<scope>:read` scope), and PostgreSQL shows a CLINICAL_PHI event only
to roles and keys that read PHI, as it does the subject's own rows. One table, read by the feed, the webhook
registration and the fan-out alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.billing.permissions import CLAIM, LEDGER
from apps.biomarkers.permissions import READING
from apps.clinical.permissions import ASSESSMENT, ASSESSMENT_FLAG, CLINICAL_NOTE, ENCOUNTER
from apps.organizations.access_map import Resource
from apps.organizations.context import TenantContext
from apps.patients.models import PHIAccessLog
from apps.patients.permissions import PATIENT
from apps.scheduling.permissions import APPOINTMENT

Record = PHIAccessLog.RecordType


@dataclass(frozen=True)
class EventType:
    name: str
    subject_type: str
    subject: Resource
    # What a CLINICAL_PHI event of this type tells about its patient, as the PHI access log names it.
    phi_record_type: str
    description: str

    def readable_by(self, ctx: TenantContext | None) -> bool:
        """May the caller of `ctx` read the subject (and so the events about it)?"""
        return self.subject.allows(ctx, "read")


PATIENT_CREATED = "patient.created"
PATIENT_CHANGED = "patient.changed"
ENCOUNTER_CREATED = "encounter.created"
ASSESSMENT_COMPLETED = "assessment.completed"
FLAG_RAISED = "flag.raised"
BIOMARKER_BATCH_STORED = "biomarker_batch.stored"
BIOMARKER_BATCH_CORRECTED = "biomarker_batch.corrected"
BIOMARKER_READING_VOIDED = "biomarker_reading.voided"
LEDGER_ENTRY_CREATED = "ledger_entry.created"
INSTALLMENT_FAILED = "installment.failed"
NOTE_SIGNED = "note.signed"
APPOINTMENT_BOOKED = "appointment.booked"
APPOINTMENT_CHANGED = "appointment.changed"
CLAIM_STATUS_CHANGED = "claim.status_changed"

EVENT_TYPES: dict[str, EventType] = {
    event_type.name: event_type
    for event_type in (
        EventType(
            PATIENT_CREATED,
            "patient",
            PATIENT,
            Record.PATIENT,
            "A patient was registered. Data: none beyond the subject.",
        ),
        EventType(
            PATIENT_CHANGED,
            "patient",
            PATIENT,
            Record.PATIENT,
            "A patient's record changed (demographics, contact, soft delete or restore). Data: `fields`, the names "
            "of the fields that changed, never their values.",
        ),
        EventType(
            ENCOUNTER_CREATED,
            "encounter",
            ENCOUNTER,
            Record.ENCOUNTER,
            "An encounter was opened. Data: `encounter_type`.",
        ),
        EventType(
            ASSESSMENT_COMPLETED,
            "assessment",
            ASSESSMENT,
            Record.ASSESSMENT,
            "An assessment was completed and scored. Data: `instrument`.",
        ),
        EventType(
            FLAG_RAISED,
            "assessment_flag",
            ASSESSMENT_FLAG,
            Record.ASSESSMENT,
            "A response needs review. Data: `reason`.",
        ),
        EventType(
            BIOMARKER_BATCH_STORED,
            "biomarker_batch",
            READING,
            Record.BIOMARKER_READING,
            "A batch of readings was stored. Data: `patient_ids`, `metric_types` and `readings` (how many of this "
            "classification the batch held). A batch with wellness and PHI readings gives one event for each.",
        ),
        EventType(
            BIOMARKER_BATCH_CORRECTED,
            "biomarker_batch",
            READING,
            Record.BIOMARKER_READING,
            "Readings of a batch corrected readings already stored (same source and id, a new value or time); the "
            "old values stay in each reading's history. Data: `patient_ids`, `metric_types`, `readings` and "
            "`reading_ids` (of this classification), never a value.",
        ),
        EventType(
            BIOMARKER_READING_VOIDED,
            "biomarker_reading",
            READING,
            Record.BIOMARKER_READING,
            "A reading was voided: it leaves every result and stays in its history. Data: `metric_type`, `source`, "
            "`source_reading_id`.",
        ),
        EventType(
            LEDGER_ENTRY_CREATED,
            "ledger_entry",
            LEDGER,
            Record.LEDGER_ENTRY,
            "A charge, payment, adjustment or refund was posted. Data: `kind`, `transaction_type`, "
            "`amount_cents`, `currency`, `payment_status`.",
        ),
        EventType(
            INSTALLMENT_FAILED,
            "ledger_entry",
            LEDGER,
            Record.LEDGER_ENTRY,
            "A payment attempt for an installment failed; the subject is the installment charge. Data: "
            "`attempt_id`, the failed payment entry.",
        ),
        EventType(
            NOTE_SIGNED,
            "clinical_note",
            CLINICAL_NOTE,
            Record.CLINICAL_NOTE,
            "A clinical note was signed (from then on it is locked). Data: `template`, `encounter_id`.",
        ),
        EventType(
            APPOINTMENT_BOOKED,
            "appointment",
            APPOINTMENT,
            Record.APPOINTMENT,
            "An appointment was booked. Data: `status`, `starts_at`, `ends_at`, `provider_id` (never the reason).",
        ),
        EventType(
            APPOINTMENT_CHANGED,
            "appointment",
            APPOINTMENT,
            Record.APPOINTMENT,
            "An appointment was confirmed, moved, checked in, started, completed, cancelled or marked a no-show. "
            "Data: `status`, `starts_at`, `ends_at`, `provider_id` (never the reason).",
        ),
        EventType(
            CLAIM_STATUS_CHANGED,
            "claim",
            CLAIM,
            Record.CLAIM_FILE,
            "A claim moved along its lifecycle (submitted, accepted, rejected, paid, partly paid, denied, corrected, "
            "voided, ready again). Data: `status`, `number`, `frequency_code`.",
        ),
    )
}


def readable_types(ctx: TenantContext | None) -> list[str]:
    """The event types the caller of `ctx` may see, in registry order."""
    return [name for name, event_type in EVENT_TYPES.items() if event_type.readable_by(ctx)]
