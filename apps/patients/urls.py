from django.urls import path

from . import api

urlpatterns = [
    path("patients/", api.PatientListApi.as_view(), name="patient-list"),
    path("patients/<uuid:patient_id>/", api.PatientDetailApi.as_view(), name="patient-detail"),
    path("patients/<uuid:patient_id>/restore/", api.PatientRestoreApi.as_view(), name="patient-restore"),
    path("patients/<uuid:patient_id>/ssn/reveal/", api.PatientSSNRevealApi.as_view(), name="patient-ssn-reveal"),
    path("patients/<uuid:patient_id>/consents/", api.PatientConsentListApi.as_view(), name="patient-consent-list"),
    path("consents/<uuid:consent_id>/revoke/", api.ConsentRevokeApi.as_view(), name="consent-revoke"),
]
