from django.urls import path

from . import api

urlpatterns = [
    path("patients/<uuid:patient_id>/health-events/", api.HealthEventListApi.as_view(), name="health-event-list"),
    path(
        "patients/<uuid:patient_id>/health-events/summary/",
        api.HealthEventSummaryApi.as_view(),
        name="health-event-summary",
    ),
    path(
        "patients/<uuid:patient_id>/medication-adherence/",
        api.MedicationAdherenceApi.as_view(),
        name="medication-adherence",
    ),
    path("patients/<uuid:patient_id>/assessments/", api.AssessmentListApi.as_view(), name="assessment-list"),
    path("assessments/instruments/", api.InstrumentListApi.as_view(), name="assessment-instrument-list"),
    path("assessment-flags/", api.AssessmentFlagListApi.as_view(), name="assessment-flag-list"),
    path(
        "assessment-flags/<uuid:flag_id>/review/",
        api.AssessmentFlagReviewApi.as_view(),
        name="assessment-flag-review",
    ),
]
