"""The billing app's jobs: the exchange with the clearinghouse (claim batches and eligibility questions sent on
request, answers fetched every ten minutes from organizations whose connection is active)."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.tasks import Task

from apps.organizations.jobs import maintenance_job, tenant_job
from apps.organizations.roles import Role

from . import clearinghouse
from .models import ClearinghouseConnection


@tenant_job(role=Role.BILLING)
def clearinghouse_send(*, organization_id: uuid.UUID) -> None:
    """Send the organization's ready claims to its clearinghouse (a failed attempt changes nothing; retried)."""
    clearinghouse.claim_batch_send()


@tenant_job(role=Role.BILLING)
def eligibility_send(*, organization_id: uuid.UUID) -> None:
    """Send the organization's eligibility questions (270s) to its clearinghouse (retried when it fails)."""
    clearinghouse.eligibility_checks_send()


# One attempt: the next tick tries again.
@tenant_job(role=Role.BILLING, retry=0)
def clearinghouse_receive(*, organization_id: uuid.UUID) -> None:
    """Import the answers waiting on the organization's clearinghouse server."""
    clearinghouse.clearinghouse_answers_receive()


def _defer_once(task: Task[Any, Any, Any], lock: str, organization_id: str) -> None:
    try:
        with transaction.atomic():  # a refused duplicate must not abort an enclosing transaction
            task.configure(queueing_lock=lock).defer(organization_id=organization_id)
    except AlreadyEnqueued:
        pass  # the previous one has not run yet: it does the same work


def clearinghouse_send_request(*, organization_id: uuid.UUID) -> None:
    """Queue a send of the organization's ready claims (once, however often asked before it runs)."""
    _defer_once(clearinghouse_send, f"clearinghouse-send-{organization_id}", str(organization_id))


def eligibility_send_request(*, organization_id: uuid.UUID) -> None:
    """Queue a send of the organization's eligibility questions (once, however often asked before it runs)."""
    _defer_once(eligibility_send, f"eligibility-send-{organization_id}", str(organization_id))


def clearinghouse_receive_request(*, organization_id: uuid.UUID) -> None:
    """Queue a receipt of the organization's answers (once, however often asked before it runs)."""
    _defer_once(clearinghouse_receive, f"clearinghouse-receive-{organization_id}", str(organization_id))


@maintenance_job(periodic="*/10 * * * *")
def clearinghouse_tick(*, using: str, timestamp: int) -> None:
    """Each organization with an active clearinghouse connection gets a receipt job (ids only in the jobs table)."""
    organizations = (
        ClearinghouseConnection.objects.using(using)
        .filter(is_active=True)
        .values_list("organization_id", flat=True)
        .distinct()
    )
    for organization_id in organizations:
        clearinghouse_receive_request(organization_id=organization_id)
