"""Webhook endpoints and their deliveries in the admin: the owner registers endpoints, reads the attempts log,
replays deliveries, and is told when Kura disabled an endpoint."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from apps.organizations.admin_base import TenantInline, TenantModelAdmin, may

from . import services, webhooks
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .permissions import WEBHOOK_DELIVERY, WEBHOOK_ENDPOINT
from .types import EVENT_TYPES


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=[(name, name) for name in EVENT_TYPES], widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "event_types", "description", "is_active"]

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        if problem := webhooks.url_problem(url):
            raise forms.ValidationError(problem)
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(TenantModelAdmin):
    resource = WEBHOOK_ENDPOINT
    form = WebhookEndpointForm
    list_display = ["url", "is_active", "disabled_at", "disabled_reason", "registered_by", "created_at"]
    list_filter = ["is_active"]
    readonly_fields = ["disabled_at", "disabled_reason"]

    @admin.display(description="Registered by")
    def registered_by(self, endpoint: WebhookEndpoint) -> str:
        return f"API key {endpoint.api_key.prefix}" if endpoint.api_key is not None else "Staff"

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        if not change:
            endpoint, secret = services.webhook_endpoint_create(
                url=obj.url, event_types=list(obj.event_types), description=obj.description
            )
            obj.pk = endpoint.pk
            self.message_user(
                request,
                f"The endpoint's signing secret, shown this once: {secret}",
                messages.WARNING,
            )
            return
        stored = WebhookEndpoint.objects.get(pk=obj.pk)
        services.webhook_endpoint_update(
            endpoint=stored, **{name: form.cleaned_data[name] for name in form.changed_data}
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        disabled = WebhookEndpoint.objects.for_current_organization().filter(disabled_at__isnull=False).count()
        if disabled:
            self.message_user(
                request,
                f"{disabled} endpoint(s) were disabled after deliveries kept failing: see the attempts under Webhook "
                "deliveries, fix the receiver, then mark the endpoint active.",
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)


ATTEMPT_FIELDS: list[Any] = ["attempted_at", "status_code", "duration_ms", "error_class", "succeeded"]
DELIVERY_FIELDS: list[Any] = [
    "endpoint",
    "event_type",
    "status",
    "attempt_count",
    "next_attempt_at",
    "give_up_at",
    "delivered_at",
]


class WebhookAttemptInline(TenantInline):
    model = WebhookAttempt
    resource = WEBHOOK_DELIVERY
    fields = ATTEMPT_FIELDS
    readonly_fields = ATTEMPT_FIELDS
    can_delete = False

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(TenantModelAdmin):
    resource = WEBHOOK_DELIVERY
    has_history = False
    list_display = ["endpoint", "event_type", "status", "attempt_count", "next_attempt_at", "delivered_at"]
    list_filter = ["status"]
    list_select_related = ["endpoint", "event"]
    fields = DELIVERY_FIELDS
    readonly_fields = DELIVERY_FIELDS
    inlines = [WebhookAttemptInline]
    actions = ["replay"]

    @admin.display(description="Event type")
    def event_type(self, delivery: WebhookDelivery) -> str:
        return delivery.event.event_type

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return may(request, self.resource, "replay")

    @admin.action(description="Replay selected deliveries", permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        replayed = 0
        for delivery in queryset.select_related("endpoint").filter(endpoint__is_active=True):
            services.webhook_delivery_replay(delivery=delivery)
            replayed += 1
        skipped = queryset.count() - replayed
        self.message_user(request, f"{replayed} delivery(ies) will be sent again.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{skipped} delivery(ies) of disabled endpoints were not replayed.", messages.WARNING
            )
