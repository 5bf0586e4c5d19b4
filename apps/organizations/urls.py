from django.urls import path

from . import api

urlpatterns = [
    path("me/", api.MeApi.as_view(), name="me"),
    path("me/organization/", api.OrganizationSwitchApi.as_view(), name="me-organization"),
]
