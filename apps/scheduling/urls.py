from django.urls import path

from . import api

urlpatterns = [
    path("appointment-types/", api.AppointmentTypeListApi.as_view(), name="appointment-type-list"),
    path("providers/", api.ProviderListApi.as_view(), name="provider-list"),
    path("free-slots/", api.FreeSlotListApi.as_view(), name="free-slot-list"),
    path("appointments/", api.AppointmentListApi.as_view(), name="appointment-list"),
    path("appointment-series/", api.AppointmentSeriesApi.as_view(), name="appointment-series"),
    path("appointments/<uuid:appointment_id>/", api.AppointmentDetailApi.as_view(), name="appointment-detail"),
    path(
        "appointments/<uuid:appointment_id>/transitions/",
        api.AppointmentTransitionApi.as_view(),
        name="appointment-transition",
    ),
    path(
        "appointments/<uuid:appointment_id>/reschedule/",
        api.AppointmentRescheduleApi.as_view(),
        name="appointment-reschedule",
    ),
    path(
        "appointments/<uuid:appointment_id>/check-in/", api.AppointmentCheckInApi.as_view(), name="appointment-check-in"
    ),
]
