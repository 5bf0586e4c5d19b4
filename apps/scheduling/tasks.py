"""The scheduling app's jobs: appointment reminders, every hour, for the appointments of the next local day."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from apps.organizations import context
from apps.organizations.jobs import maintenance_job
from apps.organizations.models import Organization
from apps.organizations.roles import Role

from . import reminders

logger = logging.getLogger(__name__)


# Hourly: each clinic's "tomorrow" starts at its own midnight; an appointment is reminded once.
@maintenance_job(periodic="7 * * * *")
def send_appointment_reminders(*, using: str, timestamp: int) -> None:
    """Each organization's reminders, sent inside that organization's tenant context."""
    now = datetime.fromtimestamp(timestamp, UTC)
    organization_ids = list(Organization.objects.using(using).values_list("id", flat=True))
    for organization_id in organization_ids:
        with context.tenant_context(organization_id, Role.OWNER):
            sent = reminders.appointment_reminders_send(now=now)
        if sent:
            logger.info("Sent %d appointment reminder(s) for organization %s", sent, organization_id)
