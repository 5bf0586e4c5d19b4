"""Day-before reminders, sent by the scheduled job through a real SMTP server on loopback: the clinic's local
tomorrow, once per appointment, opt-outs respected, nothing clinical in the message, each clinic its own."""

from __future__ import annotations

import datetime as dt
import email
import socket
from collections.abc import Iterator
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from django.db import connections
from django.utils import timezone

from apps.organizations.jobs import worker_app
from apps.organizations.time_zones import local_datetime
from apps.scheduling.models import Appointment, AppointmentReason, AppointmentStatus
from apps.scheduling.tasks import send_appointment_reminders
from tests.conftest import as_tenant, make_organization
from tests.factories import PatientFactory
from tests.worker import run_worker

from .factories import Clinic, make_clinic

pytestmark = pytest.mark.usefixtures("committed")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802 (aiosmtpd's name)
        self.messages.append(email.message_from_bytes(envelope.content))  # type: ignore[attr-defined]
        return "250 Message accepted for delivery"


@pytest.fixture
def inbox(settings: object) -> Iterator[Inbox]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"  # type: ignore[attr-defined]
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port  # type: ignore[attr-defined]
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""  # type: ignore[attr-defined]
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        controller.stop()


def visit(clinic: Clinic, day: dt.date, hour: int, **patient_fields: object) -> Appointment:
    """An appointment written directly (tomorrow may be a weekend, outside anyone's hours)."""
    start = local_datetime(day, dt.time(hour), clinic.zone)
    with as_tenant(clinic.org):
        patient = PatientFactory(**patient_fields)
        appointment = Appointment.objects.create(
            patient=patient,
            provider=clinic.provider,
            appointment_type=clinic.therapy,
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=50),
        )
        AppointmentReason.objects.create(appointment=appointment, text="Suicidal ideation follow-up")
    return appointment


def test_the_job_reminds_tomorrows_patients_once_without_clinical_detail(inbox: Inbox) -> None:
    clinic = make_clinic(make_organization("org-a"), zone_name="America/Chicago")
    other = make_clinic(make_organization("org-b"), zone_name="Asia/Tokyo")
    with as_tenant(clinic.org):
        clinic.org.address = "100 Harbor Way, Portland"
        clinic.org.save()
    now = timezone.now().replace(microsecond=0)
    tomorrow = timezone.localdate(now, timezone=clinic.zone) + dt.timedelta(days=1)
    reminded = visit(clinic, tomorrow, 10, given_name="Mateo", email="mateo@example.org")
    visit(clinic, tomorrow, 11, email="optout@example.org", reminder_opt_out=True)
    visit(clinic, tomorrow, 12, email="")
    visit(clinic, tomorrow + dt.timedelta(days=1), 10, email="later@example.org")
    cancelled = visit(clinic, tomorrow, 13, email="cancelled@example.org")
    with as_tenant(clinic.org):
        row = Appointment.objects.get(pk=cancelled.pk)
        row.status = AppointmentStatus.CANCELLED
        row.save()
    other_tomorrow = timezone.localdate(now, timezone=other.zone) + dt.timedelta(days=1)
    visit(other, other_tomorrow, 9, email="tokyo@example.org")

    send_appointment_reminders.defer(timestamp=int(now.timestamp()))
    run_worker()
    send_appointment_reminders.defer(timestamp=int(now.timestamp()) + 3600)
    run_worker()
    connections.close_all()

    assert sorted(m["To"] for m in inbox.messages) == ["mateo@example.org", "tokyo@example.org"]
    message = next(m for m in inbox.messages if m["To"] == "mateo@example.org")
    body = message.get_payload()
    assert message["Subject"] == "Appointment reminder from Clinic org-a"
    local = reminded.starts_at.astimezone(clinic.zone)
    assert f"on {local:%A, %B} {local.day} at 10:00." in body
    assert "100 Harbor Way, Portland" in body
    for clinical in ("Suicidal", "Reyes", "Psychotherapy", "90834", reminded.patient.family_name):
        assert clinical not in body
    tokyo = next(m for m in inbox.messages if m["To"] == "tokyo@example.org")
    assert tokyo["Subject"] == "Appointment reminder from Clinic org-b"
    assert "at 09:00." in tokyo.get_payload()
    with as_tenant(clinic.org):
        sent = set(Appointment.objects.filter(reminder_sent_at__isnull=False).values_list("pk", flat=True))
    assert sent == {reminded.pk}


def test_the_reminder_job_is_scheduled_hourly() -> None:
    schedules = {task.task.name: task.cron for task in worker_app().periodic_registry.periodic_tasks.values()}
    assert schedules["apps.scheduling.tasks.send_appointment_reminders"] == "7 * * * *"
