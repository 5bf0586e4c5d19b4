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

A deadlock, serialization failure or lock timeout runs the whole request again (a bounded number of times) when
that is safe, and otherwise answers 409 or 503 with `Retry-After`, like a statement timeout or an unreachable
database (`database_failures`): never a 500.
"""

from __future__ import annotations

import io
import random
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, transaction
from django.http import HttpRequest, HttpResponse

from . import context, database_failures, idempotency, second_factor, selectors, services, throttling
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


class _Replay:
    """The body of a request that is safe to run again, kept so every attempt reads it from the start."""

    SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

    def __init__(self, body: bytes) -> None:
        self.body = body

    @classmethod
    def of(cls, request: HttpRequest) -> _Replay | None:
        """A replay of `request` if running it twice is harmless: a read, or a POST whose Idempotency-Key makes
        the second run answer like the first (the first's record rolled back with it)."""
        if request.method not in cls.SAFE_METHODS and not (
            request.method == "POST" and request.headers.get(idempotency.HEADER)
        ):
            return None
        if hasattr(request, "_body"):
            return cls(request.body)
        if request._read_started:  # type: ignore[attr-defined]
            return None  # already consumed, e.g. parsed as a multipart form by earlier code
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        json_body = request.content_type == "application/json"
        if length > (settings.KURA_MAX_BATCH_BODY_BYTES if json_body else settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0):
            return None  # too large to keep: refused later anyway, or not worth holding in memory twice
        body = request.read(length) if length else b""
        request._body = body
        return cls(body)

    def rewind(self, request: HttpRequest) -> None:
        request._stream = io.BytesIO(self.body)
        request._read_started = False  # type: ignore[attr-defined]


class TenantContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The database unreachable, or failing in this middleware's own queries: never a 500 (the view's own
        # failures come through `process_exception`).
        try:
            return self._respond(request)
        except DatabaseError as error:
            failure = database_failures.classify(error)
            if failure is None:
                raise
            database_failures.log_failure(request, error, failure)
            return database_failures.failure_response(request, failure)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Catch a view's deadlock, lock timeout or lost database for `__call__`, which decides the answer once
        the request's transaction has rolled back."""
        if database_failures.classify(exception) is None:
            return None
        request._kura_database_error = exception  # type: ignore[attr-defined]
        return HttpResponse(status=503)  # an error status: the transaction rolls back; replaced in `_respond`

    def _respond(self, request: HttpRequest) -> HttpResponse:
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
            blocked = failures.blocked()
            if blocked is not None:
                # Even a correct key waits: guessing keys from one address must not pay off.
                refused = error_response(
                    429, "throttled", "Too many failed API-key attempts from this address; try again later."
                )
                refused["Retry-After"] = str(blocked.reset_seconds)
                return refused
            try:
                principal = selectors.api_key_authenticate(raw_key=raw_key)
            except selectors.InvalidAPIKeyError:
                failures.record_failure()
                return error_response(401, "authentication_failed", "Invalid, revoked or expired API key.")
            rate = throttling.api_key_rate_hit(api_key_id=principal.id)
            if rate.exceeded:
                return throttling.too_many_requests(rate)
        # A request whose transaction met a deadlock, a serialization failure or a lock timeout runs again from
        # the start, when that is safe and the transaction is its own (a caller's, as in tests, would keep its
        # locks); otherwise it answers 409 or 503.
        outermost = not transaction.get_connection().in_atomic_block
        replay = _Replay.of(request) if outermost else None
        attempt = 0
        while True:
            attempt += 1
            if replay is not None:
                replay.rewind(request)
            request._kura_database_error = None  # type: ignore[attr-defined]
            try:
                response = self._in_transaction(request, principal, outermost=outermost)
                error: BaseException | None = request._kura_database_error  # type: ignore[attr-defined]
            except DatabaseError as raised:  # this middleware's own statements, or the commit
                error = raised
            if error is None:
                break
            failure = database_failures.classify(error)
            if failure is None:
                raise error
            if failure.retryable and replay is not None and attempt < settings.KURA_DB_RETRY_ATTEMPTS:
                # Apart a little, at random, so the transactions that collided do not collide again.
                time.sleep(random.uniform(0.02, 0.1) * attempt)  # noqa: S311 (not a secret)
                continue
            database_failures.log_failure(request, error, failure, attempts=attempt)
            response = database_failures.failure_response(request, failure)
            break
        if rate is not None:
            throttling.add_rate_limit_headers(response, rate)
        return response

    def _in_transaction(
        self, request: HttpRequest, principal: selectors.APIKeyPrincipal | None, *, outermost: bool
    ) -> HttpResponse:
        """Run the rest of the request in its own transaction (unless a caller already holds one, as tests do):
        its end clears the transaction-local tenant settings, so they need no resetting."""
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
        return response


def activate_organization(request: HttpRequest, organization_id: uuid.UUID) -> None:
    """Remember the user's choice of organization for the following requests."""
    request.session[ACTIVE_ORGANIZATION_SESSION_KEY] = str(organization_id)
