from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from django.views import defaults
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.organizations import second_factor_views
from apps.organizations.api_errors import json_or_default
from apps.organizations.views import permission_denied, switch_organization

api_v1: list[URLPattern | URLResolver] = [
    path("", include("apps.organizations.urls")),
    path("", include("apps.patients.urls")),
    path("", include("apps.clinical.urls")),
    path("", include("apps.biomarkers.urls")),
    path("", include("apps.billing.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("account/organization/", switch_organization, name="switch-organization"),
    path("account/second-factor/", second_factor_views.verify, name="second-factor-verify"),
    path("account/second-factor/enrol/", second_factor_views.enrol, name="second-factor-enrol"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
]

handler400 = json_or_default(defaults.bad_request, 400, "bad_request", "Bad request.")
handler403 = json_or_default(permission_denied, 403, "permission_denied", "Permission denied.")
handler404 = json_or_default(defaults.page_not_found, 404, "not_found", "Not found.")
handler500 = json_or_default(defaults.server_error, 500, "server_error", "Internal server error.")
