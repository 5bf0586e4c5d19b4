"""Writes of the events app: recording domain events (called by every app's services), and webhooks."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone

from apps.organizations import bulk, context
from apps.organizations.models import Membership
from apps.organizations.roles import Role

from . import selectors, webhooks
from .models import DomainEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .serializers import EventOutput
from .types import EVENT_TYPES, readable_types


def event_record(
    *,
    event_type: str,
    subject_id: uuid.UUID,
    patient_id: uuid.UUID | None,
    data_classification: str,
    data: Mapping[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> DomainEvent:
    """Add an event to the outbox, in the transaction of the change it reports (classified like its subject).

    `data` holds ids, codes and counts, never a patient's identifying values."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {event_type!r}: declare it in apps/events/types.py.")
    if not connection.in_atomic_block:
        raise RuntimeError("An event is recorded inside the transaction that makes its change.")
    return DomainEvent.objects.create(
        event_type=event_type,
        subject_type=EVENT_TYPES[event_type].subject_type,
        subject_id=subject_id,
        patient_id=patient_id,
        data_classification=data_classification,
        data=dict(data or {}),
        occurred_at=occurred_at or timezone.now(),
    )


def event_record_many(
    *,
    event_type: str,
    data_classification: str,
    subjects: Sequence[tuple[uuid.UUID, uuid.UUID | None, Mapping[str, Any]]],
    occurred_at: datetime | None = None,
) -> None:
    """`event_record` for many subjects of one event type at once (subject id, patient id, data): one INSERT for
    them all, in the transaction of the changes they report."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {event_type!r}: declare it in apps/events/types.py.")
    if not connection.in_atomic_block:
        raise RuntimeError("An event is recorded inside the transaction that makes its change.")
    when = occurred_at or timezone.now()
    bulk.rows_insert(
        DomainEvent,
        [
            DomainEvent(
                event_type=event_type,
                subject_type=EVENT_TYPES[event_type].subject_type,
                subject_id=subject_id,
                patient_id=patient_id,
                data_classification=data_classification,
                data=dict(data),
                occurred_at=when,
            )
            for subject_id, patient_id, data in subjects
        ],
    )


# --- webhooks ------------------------------------------------------------------------------------------------

# Retries wait 30 s, 1 min, 2 min, ... doubling up to 6 hours between attempts, for three days from the delivery's
# creation (or replay); a delivery still failing then is given up, and its endpoint disabled.
RETRY_FIRST_WAIT = timedelta(seconds=30)
RETRY_LONGEST_WAIT = timedelta(hours=6)
RETRY_WINDOW = timedelta(days=3)
FAN_OUT_BATCH = 500
ENDPOINT_FIELDS = frozenset({"url", "event_types", "description", "is_active"})
GAVE_UP = "Deliveries kept failing for three days; fix the receiver, then activate the endpoint again."
KEY_REVOKED = "The API key that registered the endpoint is no longer active."


def retry_wait(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt."""
    return min(RETRY_FIRST_WAIT * 2 ** min(attempts - 1, 20), RETRY_LONGEST_WAIT)


def _validate_endpoint(endpoint: WebhookEndpoint) -> None:
    """The URL is well formed and allowed, the event types exist and the caller may read them (else 400)."""
    errors: dict[str, str] = {}
    try:
        endpoint.full_clean(exclude=["organization", "api_key", "secret", "event_types"])
    except ValidationError as error:
        errors.update({name: " ".join(messages) for name, messages in error.message_dict.items()})
    if "url" not in errors and (problem := webhooks.url_problem(endpoint.url)):
        errors["url"] = problem
    readable = readable_types(context.current())
    if not isinstance(endpoint.event_types, list) or not endpoint.event_types:
        errors["event_types"] = "Name at least one event type."
    elif not set(endpoint.event_types) <= set(readable):
        errors["event_types"] = f"Unknown event type, or one this caller may not read; use: {', '.join(readable)}."
    if errors:
        raise ValidationError(errors)


def webhook_endpoint_create(*, url: str, event_types: list[str], description: str = "") -> tuple[WebhookEndpoint, str]:
    """Register an endpoint for the caller (a partner key, or staff); returns it and its secret, shown once.

    Events from now on are delivered: those already in the feed are not (the feed serves them)."""
    ctx = context.current()
    head = selectors.feed_head()
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint(
        url=url,
        event_types=sorted(set(event_types)) if isinstance(event_types, list) else event_types,
        description=description,
        secret=secret,
        api_key_id=ctx.api_key_id if ctx is not None else None,
        after_transaction_id=head.transaction_id,
        after_event_id=head.event_id,
    )
    _validate_endpoint(endpoint)
    with transaction.atomic():
        endpoint.save()
    return endpoint, secret


def webhook_endpoint_update(
    *, endpoint: WebhookEndpoint, now: datetime | None = None, **changes: Any
) -> WebhookEndpoint:
    """Change an endpoint's URL, event types, description or active flag. Activating a disabled endpoint gives its
    pending deliveries a new three-day window, starting now."""
    unknown = set(changes) - ENDPOINT_FIELDS
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be set."))
    now = now or timezone.now()
    reactivated = changes.get("is_active") is True and not endpoint.is_active
    for name, value in changes.items():
        setattr(endpoint, name, sorted(set(value)) if name == "event_types" and isinstance(value, list) else value)
    _validate_endpoint(endpoint)
    if reactivated:
        endpoint.disabled_at, endpoint.disabled_reason = None, ""
    with transaction.atomic():
        # Not the fan-out position, which the dispatch job may have moved since this copy was read.
        endpoint.save(update_fields=[*changes, "disabled_at", "disabled_reason", "updated_at"])
        if reactivated:
            for delivery in endpoint.deliveries.filter(status=WebhookDelivery.Status.PENDING):
                delivery.next_attempt_at, delivery.give_up_at = now, now + RETRY_WINDOW
                delivery.save(update_fields=["next_attempt_at", "give_up_at", "updated_at"])
    return endpoint


def _endpoint_reader(endpoint: WebhookEndpoint) -> context.TenantContext | None:
    """The caller whose read rules the endpoint's deliveries follow: the registering key (None if it is no longer
    active), or the organization's owner for an endpoint staff registered."""
    current = context.current()
    if current is None:
        raise RuntimeError("Webhooks are fanned out inside a tenant context.")
    key = endpoint.api_key
    if key is None:
        return context.TenantContext(organization_id=current.organization_id, role=Role.OWNER)
    if not key.is_active:
        return None
    return context.TenantContext(
        organization_id=current.organization_id,
        role=Role.PARTNER,
        api_key_id=key.pk,
        scopes=frozenset(key.scopes),
        phi_access=key.phi_access,
        patient_consent_required=key.partner.requires_patient_consent,
    )


def webhook_fan_out(*, now: datetime) -> int:
    """Create a pending delivery for every new event each active endpoint subscribes to and its registrant may
    read (its key's scopes, PHI access and patients' consents, applied by the same rules and policies as the
    feed). Returns how many deliveries were created."""
    created = 0
    endpoints = (
        WebhookEndpoint.objects.for_current_organization().filter(is_active=True).select_related("api_key__partner")
    )
    for endpoint in endpoints.select_for_update(of=("self",), skip_locked=True).order_by("created_at", "id"):
        reader = _endpoint_reader(endpoint)
        if reader is None:
            webhook_endpoint_disable(endpoint=endpoint, now=now, reason=KEY_REVOKED)
            continue
        after = selectors.FeedPosition(endpoint.after_transaction_id, endpoint.after_event_id)
        with context.activated(reader):
            wanted = [name for name in readable_types(reader) if name in endpoint.event_types]
            events = list(
                selectors.events_after(DomainEvent.objects.filter(event_type__in=wanted), after)[:FAN_OUT_BATCH]
            )
        if not events:
            continue
        WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(
                    organization_id=endpoint.organization_id,
                    endpoint=endpoint,
                    event=event,
                    next_attempt_at=now,
                    give_up_at=now + RETRY_WINDOW,
                )
                for event in events
            ],
            ignore_conflicts=True,  # an event already delivered to the endpoint is replayed, never fanned out twice
        )
        created += len(events)
        # The fan-out position is the job's bookkeeping, not a change anyone made to the endpoint: it is left out
        # of the endpoint's history (`excluded_fields`), hence an UPDATE rather than a save.
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            after_transaction_id=events[-1].transaction_id, after_event_id=events[-1].id
        )
    return created


def webhook_attempt(
    *, delivery_id: uuid.UUID, now: datetime, send: Callable[..., webhooks.Outcome] = webhooks.post
) -> WebhookAttempt | None:
    """Attempt one due delivery: POST the signed event, log the attempt, and schedule the next one or give up.

    None when the delivery is not due (delivered, given up, its endpoint disabled, or another worker has it)."""
    delivery = (
        WebhookDelivery.objects.for_current_organization()
        .select_for_update(of=("self",), skip_locked=True)
        .select_related("endpoint", "event")
        .filter(
            pk=delivery_id,
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at__lte=now,
            endpoint__is_active=True,
        )
        .first()
    )
    if delivery is None:
        return None
    endpoint, event = delivery.endpoint, delivery.event
    reader = _endpoint_reader(endpoint)
    if reader is None:
        webhook_endpoint_disable(endpoint=endpoint, now=now, reason=KEY_REVOKED)
        return None
    # Rendered as its recipient: a PHI event sent is logged as the registering key's read.
    with context.activated(reader):
        body = json.dumps(EventOutput(event).data, separators=(",", ":")).encode()
    timestamp = int(now.timestamp())
    outcome = send(
        url=endpoint.url,
        body=body,
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Kura-Webhooks/1",
            webhooks.SIGNATURE_HEADER: webhooks.sign(secret=endpoint.secret, timestamp=timestamp, body=body),
            "Kura-Event-Id": str(event.public_id),
            "Kura-Event-Type": event.event_type,
        },
    )
    attempt = WebhookAttempt.objects.create(
        organization_id=delivery.organization_id,
        delivery=delivery,
        attempted_at=now,
        status_code=outcome.status_code,
        duration_ms=outcome.duration_ms,
        error_class=outcome.error_class[:100],
        succeeded=outcome.succeeded,
    )
    delivery.attempt_count += 1
    if outcome.succeeded:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = WebhookDelivery.Status.DELIVERED, now, None
    elif now + retry_wait(delivery.attempt_count) <= delivery.give_up_at:
        delivery.next_attempt_at = now + retry_wait(delivery.attempt_count)
    else:
        delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
        webhook_endpoint_disable(endpoint=endpoint, now=now, reason=GAVE_UP)
    delivery.save(update_fields=["attempt_count", "status", "delivered_at", "next_attempt_at", "updated_at"])
    return attempt


def webhook_endpoint_disable(*, endpoint: WebhookEndpoint, now: datetime, reason: str) -> WebhookEndpoint:
    """Stop delivering to an endpoint and tell the organization's owners by e-mail (after the commit)."""
    if not endpoint.is_active:
        return endpoint
    endpoint.is_active, endpoint.disabled_at, endpoint.disabled_reason = False, now, reason
    with transaction.atomic():
        endpoint.save(update_fields=["is_active", "disabled_at", "disabled_reason", "updated_at"])
    owners = list(
        Membership.objects.for_current_organization()
        .filter(role=Role.OWNER, is_active=True, user__is_active=True)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    subject = "Kura stopped delivering webhooks to one of your endpoints"
    message = (
        f"Kura disabled the webhook endpoint {endpoint.url}: {reason}\n\n"
        "Its undelivered events are kept. In Kura's admin (Events and webhooks > Webhook endpoints), check the "
        "attempts log, fix the receiver, then mark the endpoint active: pending deliveries are tried again."
    )
    if owners:
        transaction.on_commit(lambda: send_mail(subject, message, None, owners))
    return endpoint


def webhook_delivery_replay(*, delivery: WebhookDelivery, now: datetime | None = None) -> WebhookDelivery:
    """Send a delivery again (delivered or given up), with a new three-day window; its event id stays the same."""
    if not delivery.endpoint.is_active:
        raise ValidationError({"endpoint": "The endpoint is disabled; activate it before replaying."})
    now = now or timezone.now()
    delivery.status, delivery.next_attempt_at, delivery.give_up_at = (
        WebhookDelivery.Status.PENDING,
        now,
        now + RETRY_WINDOW,
    )
    with transaction.atomic():
        delivery.save(update_fields=["status", "next_attempt_at", "give_up_at", "updated_at"])
    return delivery
