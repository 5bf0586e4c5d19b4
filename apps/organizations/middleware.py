"""Decides who a request is and which organization it acts for, then runs it inside one transaction with
the row-level-security context set.

Staff pages, the admin and the API all pass through here:

* `Authorization: Api-Key <key>`: the partner behind the key (DRF authenticates only after middleware, so
  the key is resolved here and DRF's APIKeyAuthentication merely reports it); an address with too many failed
  keys lately gets 429 first;
* a logged-in session user who passed the second factor: their active membership (chosen with the organization
  switcher, else the first); a password-only session gets no context;
* anyone else: no context, so every tenant table shows zero rows.

A partner key's request is counted against its rate limit (`throttling`) before the transaction begins.

The context is set with `set_config(..., true)` *inside* the transaction that runs the view, so it cannot
outlive the request on a pooled connection. Error responses (4xx/5xx returned, not raised) roll back.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.db import transaction
from django.http import HttpRequest, HttpResponse

from . import context, second_factor, selectors, services, throttling
from .api_errors import error_response
from .context import TenantContext
from .models import Membership
from .roles import Role

ACTIVE_ORGANIZATION_SESSION_KEY = "kura_active_organization"
API_KEY_SCHEME = "api-key"


def presented_api_key(request: HttpRequest) -> str | None:
    """The key from `Authorization: Api-Key <key>` (or `X-Api-Key`), if one was presented."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == API_KEY_SCHEME:
        return value.strip()
    explicit = request.META.get("HTTP_X_API_KEY")
    return explicit.strip() if explicit is not None else None


def _staff_context(request: HttpRequest) -> tuple[TenantContext | None, list[Membership]]:
    user = request.user
    if not (user.is_authenticated and user.is_active):
        return None, []
    if not second_factor.session_is_verified(request):
        # Password only: no organization, so no admin page, staff page or API call acts for one.
        return None, []
    context.set_authenticated_user(int(user.pk))
    memberships = list(selectors.user_memberships(user_id=int(user.pk)))
    if not memberships:
        return None, []
    chosen = request.session.get(ACTIVE_ORGANIZATION_SESSION_KEY)
    membership = next((m for m in memberships if str(m.organization_id) == chosen), memberships[0])
    ctx = TenantContext(organization_id=membership.organization.id, role=membership.role, user_id=int(user.pk))
    return ctx, memberships


class TenantContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.tenant = None  # type: ignore[attr-defined]
        request.memberships = []  # type: ignore[attr-defined]
        request.api_key = None  # type: ignore[attr-defined]
        # A partner key is resolved and its request counted before the request's transaction: that
        # transaction rolls back on error responses, and refused or failing requests must count too.
        raw_key = presented_api_key(request)
        principal: selectors.APIKeyPrincipal | None = None
        rate: throttling.RateLimitState | None = None
        if raw_key is not None:
            failures = throttling.APIKeyFailureWindow.current(request)
            if failures.is_blocked():
                # Even a correct key waits: guessing keys from one address must not pay off.
                refused = error_response(
                    429, "throttled", "Too many failed API-key attempts from this address; try again later."
                )
                refused["Retry-After"] = str(failures.retry_after)
                return refused
            try:
                principal = selectors.api_key_authenticate(raw_key=raw_key)
            except selectors.InvalidAPIKeyError:
                failures.record_failure()
                return error_response(401, "authentication_failed", "Invalid, revoked or expired API key.")
            rate = throttling.api_key_rate_hit(api_key_id=principal.id)
            if rate.exceeded:
                return throttling.too_many_requests(rate)
        # The request's own transaction (unless a caller already holds one, as tests do): its end clears the
        # transaction-local tenant settings, so they need no resetting.
        outermost = not transaction.get_connection().in_atomic_block
        with transaction.atomic():
            ctx: TenantContext | None
            if principal is not None:
                request.api_key = principal  # type: ignore[attr-defined]
                ctx = TenantContext(
                    organization_id=principal.organization_id,
                    role=Role.PARTNER,
                    api_key_id=principal.id,
                    scopes=principal.scopes,
                    phi_access=principal.phi_access,
                    patient_consent_required=principal.requires_patient_consent,
                )
            else:
                ctx, memberships = _staff_context(request)
                request.memberships = memberships  # type: ignore[attr-defined]
            request.tenant = ctx  # type: ignore[attr-defined]
            with context.activated(ctx, restore=not outermost):
                if principal is not None:
                    services.api_key_touch(api_key_id=principal.id, last_used_at=principal.last_used_at)
                response = self.get_response(request)
                if response.status_code >= 400:
                    transaction.set_rollback(True)
        if rate is not None:
            throttling.add_rate_limit_headers(response, rate)
        return response


def activate_organization(request: HttpRequest, organization_id: uuid.UUID) -> None:
    """Remember the user's choice of organization for the following requests."""
    request.session[ACTIVE_ORGANIZATION_SESSION_KEY] = str(organization_id)
