from django.urls import path

from . import api

urlpatterns = [
    path("events/", api.EventFeedApi.as_view(), name="event-feed"),
    path("webhook-endpoints/", api.WebhookEndpointListApi.as_view(), name="webhook-endpoint-list"),
    path(
        "webhook-endpoints/<uuid:endpoint_id>/", api.WebhookEndpointDetailApi.as_view(), name="webhook-endpoint-detail"
    ),
    path(
        "webhook-endpoints/<uuid:endpoint_id>/deliveries/",
        api.WebhookDeliveryListApi.as_view(),
        name="webhook-delivery-list",
    ),
    path(
        "webhook-deliveries/<uuid:delivery_id>/replay/",
        api.WebhookDeliveryReplayApi.as_view(),
        name="webhook-delivery-replay",
    ),
]
