"""The event feed and webhook endpoints: parse, call a service or selector, shape the output."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.organizations.access import object_or_404
from apps.organizations.pagination import ListPagination
from apps.organizations.rendering import OutputSerializer

from . import selectors, services
from .models import WebhookDelivery, WebhookEndpoint
from .permissions import EVENT, WEBHOOK_DELIVERY, WEBHOOK_ENDPOINT
from .serializers import EventOutput
from .types import EVENT_TYPES

MAX_PAGE_SIZE = 500


class EventPageOutput(serializers.Serializer):
    results = EventOutput(many=True)
    next_cursor = serializers.CharField(
        help_text="Pass as `cursor` to read on; when `results` is empty, poll again later with the same cursor."
    )
    has_more = serializers.BooleanField(help_text="More events are ready now.")


class EventFeedQuery(serializers.Serializer):
    cursor = serializers.CharField(required=False, max_length=100, help_text="The `next_cursor` of the last page.")
    types = serializers.ListField(
        child=serializers.CharField(max_length=60),
        required=False,
        max_length=len(EVENT_TYPES),
        help_text="Event types, comma-separated or repeated; default every type the key may read.",
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE, default=100)

    def validate_cursor(self, value: str) -> selectors.FeedPosition:
        try:
            return selectors.FeedPosition.decode(value)
        except selectors.MalformedCursorError:
            raise serializers.ValidationError("Not a cursor this feed gave; use a `next_cursor`.") from None

    def validate_types(self, value: list[str]) -> list[str]:
        if not set(value) <= set(EVENT_TYPES):
            raise serializers.ValidationError(f"Unknown event type; use: {', '.join(EVENT_TYPES)}.")
        return value


def _query_params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = {key: request.query_params.get(key) for key in request.query_params}
    if "types" in request.query_params:
        params["types"] = [t for value in request.query_params.getlist("types") for t in value.split(",") if t]
    return params


class EventFeedApi(APIView):
    resource = EVENT

    @extend_schema(
        parameters=[EventFeedQuery],
        responses=EventPageOutput,
        summary="Domain events in commit-safe order, after a cursor",
        description=(
            "Changes partners care about, in one order that never skips or repeats an event while the clinic "
            "writes: page with `cursor=<next_cursor>` until `has_more` is false, keep the last cursor, and poll "
            "with it later. A key sees the event types whose subject its scopes may read, and CLINICAL_PHI "
            "events only with PHI access. Types: "
            + "; ".join(f"`{name}`: {event_type.description}" for name, event_type in EVENT_TYPES.items())
        ),
    )
    def get(self, request: Request) -> Response:
        query = EventFeedQuery(data=_query_params(request))
        query.is_valid(raise_exception=True)
        params = query.validated_data
        after: selectors.FeedPosition | None = params.get("cursor")
        limit = params["limit"]
        events = selectors.event_feed(after=after, types=params.get("types", ()), limit=limit + 1)
        page = events[:limit]
        position = selectors.FeedPosition.of(page[-1]) if page else (after or selectors.FEED_START)
        return Response(
            {
                "results": EventOutput(page, many=True).data,
                "next_cursor": position.encode(),
                "has_more": len(events) > limit,
            }
        )


# --- webhook endpoints ---------------------------------------------------------------------------------------


class WebhookEndpointOutput(OutputSerializer):
    id = serializers.UUIDField()
    url = serializers.URLField()
    event_types = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField()
    is_active = serializers.BooleanField()
    disabled_at = serializers.DateTimeField(allow_null=True)
    disabled_reason = serializers.CharField(help_text="Why Kura disabled the endpoint; empty while it is active.")
    created_at = serializers.DateTimeField()


class WebhookEndpointCreatedOutput(WebhookEndpointOutput):
    secret = serializers.CharField(
        help_text="Verifies the `Kura-Signature` header of each delivery. Shown this once: store it now."
    )


class WebhookEndpointInput(serializers.Serializer):
    url = serializers.CharField(max_length=500, help_text="https, on a public address (development allows http).")
    event_types = serializers.ListField(child=serializers.CharField(max_length=60), min_length=1, max_length=50)
    description = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class WebhookEndpointChangeInput(serializers.Serializer):
    url = serializers.CharField(max_length=500, required=False)
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=60), min_length=1, max_length=50, required=False
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_active = serializers.BooleanField(
        required=False, help_text="false stops deliveries; true resumes them (pending ones get a new window)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("Send at least one of url, event_types, description, is_active.")
        return attrs


class WebhookAttemptOutput(OutputSerializer):
    attempted_at = serializers.DateTimeField()
    status_code = serializers.IntegerField(allow_null=True)
    duration_ms = serializers.IntegerField()
    error_class = serializers.CharField()
    succeeded = serializers.BooleanField()


class WebhookDeliveryOutput(OutputSerializer):
    id = serializers.UUIDField()
    event_id = serializers.UUIDField(source="event.public_id")
    event_type = serializers.CharField(source="event.event_type")
    status = serializers.CharField()
    attempt_count = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    give_up_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    attempts = WebhookAttemptOutput(many=True, source="attempts.all")


def _endpoint(endpoint_id: uuid.UUID) -> WebhookEndpoint:
    return object_or_404(selectors.webhook_endpoint_list(), endpoint_id)


class WebhookEndpointListApi(APIView):
    pagination_class = ListPagination
    resource = WEBHOOK_ENDPOINT

    @extend_schema(responses=WebhookEndpointOutput(many=True), summary="The caller's webhook endpoints")
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.webhook_endpoint_list(), request, view=self)
        return paginator.get_paginated_response(WebhookEndpointOutput(page, many=True).data)

    @extend_schema(
        request=WebhookEndpointInput,
        responses={201: WebhookEndpointCreatedOutput},
        summary="Register a webhook endpoint",
        description=(
            "Events of the chosen types that occur from now on are POSTed to the URL, signed (`Kura-Signature: "
            "t=<unix time>,v1=<hex HMAC-SHA256 of '<t>.<body>' with the secret>`), retried with exponential backoff "
            "for three days. A key receives only the events it may read in the feed. The secret is in this answer "
            "only."
        ),
    )
    def post(self, request: Request) -> Response:
        data = WebhookEndpointInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint, secret = services.webhook_endpoint_create(**data.validated_data)
        body = WebhookEndpointCreatedOutput(endpoint).data
        body["secret"] = secret
        return Response(body, status=status.HTTP_201_CREATED)


class WebhookEndpointDetailApi(APIView):
    resource = WEBHOOK_ENDPOINT

    @extend_schema(responses=WebhookEndpointOutput, summary="A webhook endpoint")
    def get(self, request: Request, endpoint_id: uuid.UUID) -> Response:
        return Response(WebhookEndpointOutput(_endpoint(endpoint_id)).data)

    @extend_schema(
        request=WebhookEndpointChangeInput,
        responses=WebhookEndpointOutput,
        summary="Change, pause or resume a webhook endpoint",
    )
    def patch(self, request: Request, endpoint_id: uuid.UUID) -> Response:
        endpoint = _endpoint(endpoint_id)
        data = WebhookEndpointChangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_update(endpoint=endpoint, **data.validated_data)
        return Response(WebhookEndpointOutput(endpoint).data)


class WebhookDeliveryListApi(APIView):
    pagination_class = ListPagination
    resource = WEBHOOK_DELIVERY

    @extend_schema(
        responses=WebhookDeliveryOutput(many=True),
        summary="An endpoint's deliveries and their attempts, newest first",
        description="Each attempt with its status code, time and class of failure.",
    )
    def get(self, request: Request, endpoint_id: uuid.UUID) -> Response:
        paginator = self.pagination_class()
        deliveries = selectors.webhook_delivery_list(endpoint=_endpoint(endpoint_id))
        page = paginator.paginate_queryset(deliveries, request, view=self)
        return paginator.get_paginated_response(WebhookDeliveryOutput(page, many=True).data)


class WebhookDeliveryReplayApi(APIView):
    resource = WEBHOOK_DELIVERY
    resource_actions = {"POST": "replay"}

    @extend_schema(
        request=None,
        responses=WebhookDeliveryOutput,
        summary="Send a delivery again",
        description="Delivered or given up: it is pending again, with the same event id, for a new three-day window.",
    )
    def post(self, request: Request, delivery_id: uuid.UUID) -> Response:
        delivery = object_or_404(
            WebhookDelivery.objects.filter(endpoint__in=selectors.webhook_endpoint_list()).select_related(
                "endpoint", "event"
            ),
            delivery_id,
        )
        delivery = services.webhook_delivery_replay(delivery=delivery)
        return Response(WebhookDeliveryOutput(delivery).data)
