from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path
from django.views import defaults
from django.views.generic import RedirectView

from apps.organizations import database_failures, second_factor_views
from apps.organizations.api import SchemaApi, SwaggerUiApi
from apps.organizations.api_errors import json_or_default
from apps.organizations.views import invitation, permission_denied, switch_organization

api_v1: list[URLPattern | URLResolver] = [
    path("", include("apps.organizations.urls")),
    path("", include("apps.patients.urls")),
    path("", include("apps.clinical.urls")),
    path("", include("apps.biomarkers.urls")),
    path("", include("apps.billing.urls")),
    path("", include("apps.scheduling.urls")),
    path("", include("apps.events.urls")),
    path("schema/", SchemaApi.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script from its own URL: the page needs no inline script.
    path("docs/", SwaggerUiApi.as_view(url_name="schema", template_name="api/swagger_ui.html"), name="swagger-ui"),
]

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("account/organization/", switch_organization, name="switch-organization"),
    # Self-service password reset by e-mail (Django's views and the admin's templates). The form answers alike
    # for known and unknown addresses; the admin's login page links to it through the `admin_password_reset`
    # name. Resetting never signs anyone in.
    path("account/password-reset/", auth_views.PasswordResetView.as_view(), name="admin_password_reset"),
    path("account/password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "account/password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "account/password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("invitations/<str:token>/", invitation, name="invitation"),
    path("account/second-factor/", second_factor_views.verify, name="second-factor-verify"),
    path("account/second-factor/enrol/", second_factor_views.enrol, name="second-factor-enrol"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    # FHIR R4, read-only (apps/fhir): plain Django views, outside the REST API and its OpenAPI schema.
    path("fhir/R4/", include("apps.fhir.urls")),
]

handler400 = json_or_default(defaults.bad_request, 400, "bad_request", "Bad request.")
handler403 = json_or_default(permission_denied, 403, "permission_denied", "Permission denied.")
handler404 = json_or_default(defaults.page_not_found, 404, "not_found", "Not found.")
handler500 = database_failures.or_server_error(
    json_or_default(defaults.server_error, 500, "server_error", "Internal server error.")
)
