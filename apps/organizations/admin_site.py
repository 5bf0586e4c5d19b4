"""Kura's admin site: open to active members of the active organization, scoped by RLS."""

from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect


class ReadLoggingAutocompleteJsonView(AutocompleteJsonView):
    """A picker's answer shows its records as the list does (a patient by name, birth date and MRN): a model
    admin that logs the reads of its list (`log_phi_read`, the patients' PHIAccessLoggedAdmin) logs these too."""

    def serialize_result(self, obj: Model, to_field_name: str) -> dict[str, Any]:
        log_read = getattr(self.model_admin, "log_phi_read", None)
        if log_read is not None:
            log_read(self.request, [obj])
        return super().serialize_result(obj, to_field_name)  # type: ignore[misc]  # not in django-stubs


class KuraAdminSite(admin.AdminSite):
    site_header = "Kura clinic administration"
    site_title = "Kura"
    index_title = "Clinic administration"

    def has_permission(self, request: HttpRequest) -> bool:
        ctx = getattr(request, "tenant", None)
        return bool(request.user.is_active and request.user.is_staff and ctx is not None and not ctx.is_partner)

    def index(  # type: ignore[override]  # a redirect for roles whose home is another page
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Each role starts its day on its home (`home.ROLE_HOMES`): the front desk on the today board, billing on
        the billing desk's work queue; the others here, on the home page of their day (visits, flags, notes to
        sign), then what they may open."""
        from django.template.response import TemplateResponse
        from django.urls import reverse

        from .home import HOME_PAGE, home_sections, home_url_name

        ctx = getattr(request, "tenant", None)
        home = home_url_name(ctx.role if ctx is not None else None)
        if home != HOME_PAGE:
            return HttpResponseRedirect(reverse(home))
        context = {
            **self.each_context(request),
            "title": "Home",
            "sections": home_sections(request),
            "app_list": self.get_app_list(request),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/index.html", context)

    def autocomplete_view(self, request: HttpRequest) -> HttpResponse:
        return ReadLoggingAutocompleteJsonView.as_view(admin_site=self)(request)  # type: ignore[return-value]

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """The password page; a signed-in user who has not passed the second factor goes on to it."""
        # Imported here: this module is loaded with the app registry, before models can be.
        from . import second_factor
        from .second_factor_views import with_next

        if request.user.is_authenticated and not second_factor.session_is_verified(request):
            return HttpResponseRedirect(with_next("second-factor-verify", request))
        response = super().login(request, extra_context)
        if request.user.is_authenticated and not second_factor.session_is_verified(request):
            return HttpResponseRedirect(with_next("second-factor-verify", request))
        return response


class KuraAdminConfig(AdminConfig):
    default_site = "apps.organizations.admin_site.KuraAdminSite"

    def ready(self) -> None:
        super().ready()  # autodiscovers every app's admin module
        from django_otp.plugins.otp_static.models import StaticDevice
        from django_otp.plugins.otp_totp.models import TOTPDevice
        from procrastinate.contrib.django.models import ProcrastinateEvent, ProcrastinateJob

        # Second-factor devices belong to global identities: no clinic's admin lists them (an owner resets a
        # member's second factor from the membership instead). Jobs are everyone's, with no row-level
        # security: operators read them with `manage.py procrastinate shell`, never through a clinic's admin.
        for model in (TOTPDevice, StaticDevice, ProcrastinateJob, ProcrastinateEvent):
            if admin.site.is_registered(model):
                admin.site.unregister(model)
