"""Reads of the events app: the event feed in commit-safe order, and webhook endpoints and deliveries.

Why the feed has no gaps and no repeats while writers run: an event row carries the id of the transaction that
wrote it, and the feed orders by (transaction id, event id). Transaction ids are handed out when a transaction
first writes, not when it commits, so a transaction with a lower id may commit after one with a higher id. The
feed therefore serves only events whose transaction id is below the oldest transaction still running
(`pg_snapshot_xmin(pg_current_snapshot())`, taken in the same statement): every such transaction has ended, and no
event can ever appear below that line again. A cursor is the (transaction id, event id) of the last event served;
the next page starts strictly after it. A long-running transaction holds the feed back (never a gap), which is the
price of the guarantee: keep transactions short.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import QuerySet

from apps.organizations import context

from .models import DomainEvent, OldestRunningTransactionId, WebhookDelivery, WebhookEndpoint
from .types import readable_types

MAX_ID = 2**63 - 1
_CURSOR_TEXT = re.compile(r"^([0-9]{1,19})\.([0-9]{1,19})$")


class MalformedCursorError(ValueError):
    """Not a cursor this feed gave."""


@dataclass(frozen=True)
class FeedPosition:
    """A place in the feed: the next page starts after the event at (transaction_id, event_id)."""

    transaction_id: int
    event_id: int

    def encode(self) -> str:
        text = f"{self.transaction_id}.{self.event_id}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> FeedPosition:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            text = base64.b64decode(padded, altchars=b"-_", validate=True).decode("ascii")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise MalformedCursorError from None
        match = _CURSOR_TEXT.match(text)
        if match is None:
            raise MalformedCursorError
        transaction_id, event_id = (int(group) for group in match.groups())
        if transaction_id > MAX_ID or event_id > MAX_ID:
            raise MalformedCursorError
        return cls(transaction_id, event_id)

    @classmethod
    def of(cls, event: DomainEvent) -> FeedPosition:
        return cls(event.transaction_id, event.id)


FEED_START = FeedPosition(0, 0)


def events_after(events: QuerySet[DomainEvent], after: FeedPosition | None) -> QuerySet[DomainEvent]:
    """Events of ended transactions strictly after `after`, in feed order (see the module's docstring)."""
    events = events.filter(transaction_id__lt=OldestRunningTransactionId())
    if after is not None:
        events = events.filter(transaction_id__gte=after.transaction_id).exclude(
            transaction_id=after.transaction_id, id__lte=after.event_id
        )
    return events.order_by("transaction_id", "id")


def event_feed(*, after: FeedPosition | None, types: Sequence[str] = (), limit: int) -> list[DomainEvent]:
    """The next `limit` events the caller may see (of `types`, or of every type it may read) after `after`.

    The caller's permission map rules pick the types; PostgreSQL hides CLINICAL_PHI events from callers that may
    not read PHI, and the default manager keeps consent-bound partners to consenting patients' events."""
    visible = readable_types(context.current())
    wanted = [name for name in visible if name in types] if types else visible
    events = DomainEvent.objects.for_current_organization().filter(event_type__in=wanted)
    return list(events_after(events, after)[:limit])


def feed_head() -> FeedPosition:
    """A position before every event the feed has not served yet (where a new webhook endpoint starts): just
    below the oldest transaction still running."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        (oldest_running,) = cursor.fetchone()
    return FeedPosition(int(oldest_running) - 1, MAX_ID)


def webhook_endpoint_list() -> QuerySet[WebhookEndpoint]:
    """The endpoints the caller manages: a partner key sees those registered by its partner, staff see all."""
    endpoints = WebhookEndpoint.objects.for_current_organization().select_related("api_key")
    ctx = context.current()
    if ctx is not None and ctx.is_partner:
        endpoints = endpoints.filter(api_key__partner__api_keys__id=ctx.api_key_id)
    return endpoints.order_by("created_at", "id")


def webhook_delivery_list(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    """An endpoint's deliveries, newest first, with their attempts."""
    return endpoint.deliveries.select_related("event").prefetch_related("attempts").order_by("-created_at", "-id")


def webhook_deliveries_due(*, now: datetime) -> QuerySet[WebhookDelivery]:
    """Pending deliveries of active endpoints whose next attempt is due."""
    return WebhookDelivery.objects.for_current_organization().filter(
        status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now, endpoint__is_active=True
    )
