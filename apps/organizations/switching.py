"""Choosing the active organization: one rule for the admin switcher and the API."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest

from . import selectors
from .middleware import activate_organization
from .models import SLUG_VALIDATOR, Membership


def organization_switch(*, request: HttpRequest, slug: object) -> Membership:
    """Make the user's membership in `slug` the active one. Malformed: ValidationError; else Http404."""
    if not isinstance(slug, str) or not slug:
        raise ValidationError({"organization": "Give the organization's slug."})
    try:
        SLUG_VALIDATOR(slug)
    except ValidationError as error:
        raise ValidationError({"organization": error.messages}) from None
    if request.user.pk is None:
        raise Http404("No such organization among your memberships.")
    membership = selectors.membership_for_slug(user_id=request.user.pk, slug=slug)
    if membership is None:
        # Same answer for "no such organization" and "not one of yours".
        raise Http404("No such organization among your memberships.")
    activate_organization(request, membership.organization.id)
    return membership
