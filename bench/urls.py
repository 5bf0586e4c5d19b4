"""The app's URLs plus one view the benchmark measures the request floor with (`cases.request_floor`)."""

from __future__ import annotations

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.patients.permissions import PATIENT
from config.urls import urlpatterns as app_urlpatterns


class EmptyApi(APIView):
    """A partner view that reads nothing and renders `{}`, with the API's default authentication, permission
    (the permission map's read rule of patients, as the patient views declare) and throttling: what every API
    request costs before its own work."""

    resource = PATIENT

    def get(self, request: Request) -> Response:
        return Response({})


EMPTY_PATH = "/bench/empty/"

urlpatterns = [path(EMPTY_PATH.strip("/") + "/", EmptyApi.as_view()), *app_urlpatterns]
