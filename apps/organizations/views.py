"""The organization switcher behind the admin header's form, the staff UI's "permission denied" page, and the
public page of an invitation's link."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from . import second_factor, selectors, services
from .middleware import activate_organization
from .models import Invitation
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


class InvitedUserForm(UserCreationForm):
    """A new identity for an invited person: a username, a name and a password Django's validators accept.
    The e-mail is the invitation's (the link reached it)."""

    class Meta(UserCreationForm.Meta):  # type: ignore[name-defined]
        model = User
        fields = ("username", "first_name", "last_name")


# Why an invitation's link no longer works, in the person's words.
UNAVAILABLE_MESSAGES = {
    Invitation.State.ACCEPTED: "This invitation has already been accepted.",
    Invitation.State.REVOKED: "This invitation was withdrawn by the organization.",
    Invitation.State.EXPIRED: "This invitation has expired.",
    services.UNKNOWN_INVITATION: "This invitation link is not valid.",
}


def _invitation_response(request: HttpRequest, template: str, status: int = 200, **values: Any) -> HttpResponse:
    page = {**admin.site.each_context(request), "title": "Invitation", **values}
    response = TemplateResponse(request, template, page, status=status)
    return response.render()


def _unavailable(request: HttpRequest, state: str) -> HttpResponse:
    status = 404 if state == services.UNKNOWN_INVITATION else 410
    return _invitation_response(
        request, "organizations/invitation_unavailable.html", status, message=UNAVAILABLE_MESSAGES[state]
    )


@never_cache
@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """An invitation's link: a new person creates their identity; someone signed in accepts with theirs.

    Neither path signs anyone in: a new identity goes on to the admin's login (where a second factor may follow),
    and an existing one signed in through it already before accepting."""
    ticket = selectors.invitation_ticket(raw_token=token)
    if ticket is None:
        return _unavailable(request, services.UNKNOWN_INVITATION)
    if ticket.state != Invitation.State.PENDING:
        return _unavailable(request, ticket.state)
    login_url = f"{reverse('admin:login')}?next={request.path}"
    user = request.user
    if user.is_authenticated and not second_factor.session_is_verified(request):
        # Accepting adds an organization to this identity: only a session that passed the second factor may.
        return HttpResponseRedirect(f"{reverse('second-factor-verify')}?{urlencode({'next': request.path})}")
    if user.is_authenticated:
        if request.method == "POST":
            try:
                services.invitation_accept(raw_token=token, user=user)
            except services.InvitationUnavailableError as error:
                return _unavailable(request, error.state)
            except services.AlreadyMemberError:
                return _invitation_response(
                    request, "organizations/invitation_accept.html", 409, ticket=ticket, already_member=True
                )
            activate_organization(request, ticket.organization_id)
            messages.success(request, f"Welcome to {ticket.organization_name}.")
            return HttpResponseRedirect(reverse("admin:index"))
        return _invitation_response(request, "organizations/invitation_accept.html", ticket=ticket)
    form = InvitedUserForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_accept_as_new_user(
                raw_token=token,
                username=form.cleaned_data["username"],
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
                password=form.cleaned_data["password1"],
            )
        except services.InvitationUnavailableError as error:
            return _unavailable(request, error.state)
        messages.success(request, f"Your account is ready. Sign in to start working in {ticket.organization_name}.")
        return HttpResponseRedirect(reverse("admin:login"))
    status = 400 if form.is_bound else 200
    return _invitation_response(
        request, "organizations/invitation_signup.html", status, ticket=ticket, form=form, login_url=login_url
    )
