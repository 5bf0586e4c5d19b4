from django.urls import include, path

from . import api

urlpatterns = [
    path("encounters/", api.EncounterListApi.as_view(), name="encounter-list"),
    path("encounters/<uuid:encounter_id>/", api.EncounterDetailApi.as_view(), name="encounter-detail"),
    path("clinical-events/", api.ClinicalEventListApi.as_view(), name="clinical-event-list"),
    path("clinical-events/<uuid:event_id>/", api.ClinicalEventDetailApi.as_view(), name="clinical-event-detail"),
    path("patients/<uuid:patient_id>/manual-entries/", api.ManualEntryApi.as_view(), name="manual-entry"),
    path("patients/<uuid:patient_id>/vitals/", api.VitalsEntryApi.as_view(), name="vitals-entry"),
    path("", include("apps.clinical.timeline.urls")),
    path("", include("apps.clinical.notes.urls")),
]
