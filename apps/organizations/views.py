"""The organization switcher behind the admin header's form, and the staff UI's "permission denied" page."""

from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from . import second_factor
from .switching import organization_switch


@require_POST
@login_required
def switch_organization(request: HttpRequest) -> HttpResponse:
    if not second_factor.session_is_verified(request):
        return HttpResponseRedirect(reverse("second-factor-verify"))
    try:
        membership = organization_switch(request=request, slug=request.POST.get("organization", ""))
    except ValidationError as error:
        return HttpResponseBadRequest("; ".join(error.messages), content_type="text/plain")
    except Http404:
        return HttpResponse("No such organization among your memberships.", status=404, content_type="text/plain")
    messages.info(request, f"Now working in {membership.organization.name}.")
    target = request.POST.get("next", "/admin/")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/admin/"
    return HttpResponseRedirect(target)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A refused page inside the admin's layout, so the person keeps their navigation and sees why."""
    response = TemplateResponse(request, "403.html", {**admin.site.each_context(request), "title": "Permission denied"})
    response.status_code = 403
    return response.render()
