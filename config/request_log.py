"""One log line per request, and the request id that ties it to everything else.

The request id is the proxy's `X-Request-ID` when `KURA_TRUST_REQUEST_ID` is on and the header is well formed
(16 to 64 hex digits and hyphens: nginx's `$request_id`, a UUID), else a new one. It is returned in the
`X-Request-ID` header and in every error body (`apps.organizations.api_errors`), and every record logged while
the request is served carries it (`config.log_filters.AddRequestId`).

The line (logger `kura.request`) names the method, the route (the URL pattern's name, never the concrete path:
paths carry ids and, for invitations and password resets, secret tokens), the status, the duration in
milliseconds, and the organization and actor of the tenant context (`key:<uuid>` or `user:<id>`): never a query
string, a body or a patient value. Up to 4xx it is INFO; a 5xx is ERROR, with the exception's type and traceback
when one was raised (Django's own line for it is left out, see `WithoutDjangoRequestLines`).
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.signals import got_request_exception
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

from config.log_filters import REQUEST_ID

logger = logging.getLogger("kura.request")

REQUEST_ID_HEADER = "X-Request-ID"
_WELL_FORMED_ID = re.compile(r"[0-9A-Fa-f-]{16,64}")

# Methods logged by name; any other is logged as OTHER (a method is whatever token a client sends).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
# The request attribute holding the exception a view (or a middleware inside this one) raised, if any.
_RAISED = "_kura_raised"


def request_id_for(request: HttpRequest) -> str:
    """The trusted, well-formed `X-Request-ID` the request came with, else a new id."""
    if settings.KURA_TRUST_REQUEST_ID:
        presented = request.META.get("HTTP_X_REQUEST_ID", "")
        if _WELL_FORMED_ID.fullmatch(presented):
            return presented
    return uuid.uuid4().hex


def route_of(request: HttpRequest) -> str | None:
    """The matched URL pattern's name (`admin:patients_patient_change`), else its route; None if none matched."""
    match = request.resolver_match
    if match is None:
        return None
    return match.view_name if match.url_name else match.route


@receiver(got_request_exception, dispatch_uid="kura_request_log_exception")
def _remember_exception(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    # Sent by Django's handler while it turns an exception into a 500 response, inside its `except` block.
    if request is not None:
        setattr(request, _RAISED, sys.exc_info()[1])


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = request_id_for(request)
        id_token = REQUEST_ID.set(request_id)
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            self._log(request, response, started)
        finally:
            REQUEST_ID.reset(id_token)
        return response

    def _log(self, request: HttpRequest, response: HttpResponse, started: float) -> None:
        tenant = getattr(request, "tenant", None)
        route = route_of(request)
        status = response.status_code
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        error = status >= 500
        raised: BaseException | None = getattr(request, _RAISED, None) if error else None
        method = request.method if request.method in _METHODS else "OTHER"
        logger.log(
            logging.ERROR if error else logging.INFO,
            "%s %s %s %sms",
            method,
            route or "(no route)",
            status,
            duration_ms,
            exc_info=(type(raised), raised, raised.__traceback__) if raised is not None else None,
            extra={
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": duration_ms,
                "organization_id": str(tenant.organization_id) if tenant is not None else None,
                "actor": (tenant.actor or None) if tenant is not None else None,
            },
        )
