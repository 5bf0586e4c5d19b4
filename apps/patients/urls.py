from django.urls import path

from . import api

urlpatterns = [
    path("patients/", api.PatientListApi.as_view(), name="patient-list"),
    path("patients/<uuid:patient_id>/", api.PatientDetailApi.as_view(), name="patient-detail"),
]
