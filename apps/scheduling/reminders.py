"""Appointment reminders by e-mail, the day before, in the clinic's zone: what to send and to whom.

A reminder names the clinic, the day and the time, and nothing clinical (no provider, type or reason: an e-mail
can be read by others). Patients who opted out, or have no e-mail address, get none; each appointment gets one.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils import timezone

from apps.organizations.models import Organization
from apps.organizations.time_zones import organization_zone

from . import selectors, services
from .models import Appointment, AppointmentStatus

logger = logging.getLogger(__name__)

REMINDED_STATUSES = (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED)


def reminders_due(*, now: dt.datetime) -> list[Appointment]:
    """Tomorrow's (in the clinic's zone) booked or confirmed appointments not yet reminded, of patients who have an
    e-mail address and did not opt out."""
    tomorrow = timezone.localdate(now, timezone=organization_zone()) + dt.timedelta(days=1)
    start, end = selectors.day_bounds(tomorrow)
    return list(
        Appointment.objects.filter(
            starts_at__gte=start,
            starts_at__lt=end,
            status__in=REMINDED_STATUSES,
            reminder_sent_at__isnull=True,
            patient__reminder_opt_out=False,
            patient__deleted_at__isnull=True,
        )
        .exclude(patient__email="")
        .select_related("patient", "organization")
        .order_by("starts_at")
    )


def reminder_message(*, appointment: Appointment, organization: Organization) -> EmailMessage:
    """The e-mail: the clinic, the day and the local time; nothing clinical."""
    local = appointment.starts_at.astimezone(organization_zone(organization.pk))
    lines = [
        f"Hello {appointment.patient.given_name},",
        "",
        f"This is a reminder of your appointment at {organization.name} on {local:%A, %B} {local.day} "
        f"at {local:%H:%M}.",
    ]
    if organization.address:
        lines += ["", organization.address]
    lines += ["", "If you cannot come, please call the clinic.", "To stop these reminders, tell the front desk."]
    return EmailMessage(
        subject=f"Appointment reminder from {organization.name}",
        body="\n".join(lines),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[appointment.patient.email],
    )


def appointment_reminders_send(*, now: dt.datetime | None = None) -> int:
    """Send the active organization's reminders due at `now`; returns how many went out."""
    now = now or timezone.now()
    due = reminders_due(now=now)
    if not due:
        return 0
    organization = due[0].organization
    sent = 0
    with get_connection() as connection:
        for appointment in due:
            message = reminder_message(appointment=appointment, organization=organization)
            message.connection = connection
            try:
                message.send()
            except OSError:
                # No address or content in the log: which appointment is enough to find it.
                logger.warning("Appointment reminder not sent (appointment %s)", appointment.pk)
                continue
            services.reminder_mark_sent(appointment=appointment, at=now)
            sent += 1
    return sent
