from django.urls import include, path

from . import api

urlpatterns = [
    path("clinical-events/", api.ClinicalEventListApi.as_view(), name="clinical-event-list"),
    path("clinical-events/<uuid:event_id>/", api.ClinicalEventDetailApi.as_view(), name="clinical-event-detail"),
    path("", include("apps.clinical.timeline.urls")),
]
