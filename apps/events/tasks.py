"""The events app's jobs: every minute, fan new events out to webhook endpoints and attempt due deliveries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone
from procrastinate.exceptions import AlreadyEnqueued

from apps.organizations.jobs import maintenance_job, tenant_job
from apps.organizations.roles import Role

from . import selectors, services
from .models import WebhookEndpoint


@maintenance_job(periodic="* * * * *")
def webhooks_tick(*, using: str, timestamp: int) -> None:
    """Each organization with an active endpoint gets its dispatch job (ids only in the jobs table)."""
    organizations = (
        WebhookEndpoint.objects.using(using).filter(is_active=True).values_list("organization_id", flat=True).distinct()
    )
    for organization_id in organizations:
        try:
            with transaction.atomic():  # a refused duplicate must not abort an enclosing transaction
                webhooks_dispatch.configure(queueing_lock=f"webhooks-dispatch-{organization_id}").defer(
                    organization_id=str(organization_id), timestamp=timestamp
                )
        except AlreadyEnqueued:
            pass  # the previous minute's dispatch has not run yet: it will pick these events up


@tenant_job(role=Role.OWNER, retry=0)
def webhooks_dispatch(*, organization_id: uuid.UUID, timestamp: int) -> None:
    """Create deliveries for new events, and a delivery job for each delivery that is due."""
    now = datetime.fromtimestamp(timestamp, UTC)
    services.webhook_fan_out(now=now)
    for delivery_id in selectors.webhook_deliveries_due(now=now).values_list("id", flat=True):
        try:
            with transaction.atomic():  # a refused duplicate must not abort the dispatch's transaction
                webhook_deliver.configure(queueing_lock=f"webhook-delivery-{delivery_id}").defer(
                    organization_id=str(organization_id), delivery_id=str(delivery_id)
                )
        except AlreadyEnqueued:
            pass


# One attempt per job, in its own transaction: a slow receiver holds up only its own delivery. A failed attempt is
# logged and rescheduled by the service (exponential backoff over three days), not retried by the job runner.
@tenant_job(role=Role.OWNER, retry=0)
def webhook_deliver(*, organization_id: uuid.UUID, delivery_id: str) -> None:
    """Attempt one delivery now (nothing happens if it is no longer due)."""
    services.webhook_attempt(delivery_id=uuid.UUID(delivery_id), now=timezone.now())
