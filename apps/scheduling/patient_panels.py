"""The chart's appointments section: the patient's next visits and the latest past ones. Every member reads the
schedule; PostgreSQL narrows a coach to their own sessions and shows a visit's reason only with PHI access."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Prefetch
from django.utils import timezone

from apps.organizations.admin_base import may
from apps.patients import phi_reads
from apps.patients.models import PHIAccessLog
from apps.patients.panels import PatientPanel

from .models import AppointmentReason
from .permissions import APPOINTMENT, CALENDAR
from .selectors import appointment_list

if TYPE_CHECKING:
    from django.http import HttpRequest

    from apps.patients.models import Patient

SHOWN = 5


def panels(request: HttpRequest, patient: Patient) -> list[PatientPanel]:
    """The next and the latest past appointments of the patient, each up to `SHOWN`."""
    if not may(request, APPOINTMENT, "read"):
        return []
    now = timezone.now()
    appointments = (
        appointment_list()
        .filter(patient=patient)
        .prefetch_related(Prefetch("reason", queryset=AppointmentReason.objects.all()))
    )
    upcoming = list(appointments.filter(starts_at__gte=now)[:SHOWN])
    past = list(appointments.filter(starts_at__lt=now).order_by("-starts_at", "-id")[:SHOWN])
    if not upcoming and not past:
        return []
    phi_reads.mark(record_type=PHIAccessLog.RecordType.APPOINTMENT, patient_ids=[a.patient_id for a in upcoming + past])
    return [
        PatientPanel(
            "Appointments",
            "scheduling/patient_panel.html",
            {"upcoming": upcoming, "past": past, "calendar": may(request, CALENDAR, "read")},
            order=30,
            anchor="appointments",
        )
    ]
