"""What a request answers when PostgreSQL cannot serve it: never a 500.

* a deadlock (SQLSTATE 40P01) or serialization failure (40001) is a **conflict**: 409;
* a lock wait past `lock_timeout` (55P03) or a statement cancelled by `statement_timeout` (57014) is **busy**: 503;
* a database that cannot be reached (no connection, or the server shutting down) is **unavailable**: 503.

Each answer carries `Retry-After`. The API answers in the one error shape; the admin and pages get a plain page
that touches neither the database nor a template needing it. The tenant middleware retries conflicts and lock
timeouts of requests that are safe to run again (`apps.organizations.middleware`); whatever reaches Django's
500 handler (`config.urls.handler500`) is classified here too, so a failure outside the request's transaction
(the session saved after it) answers the same way. Each failure is one log line naming its SQLSTATE, never a
traceback or the error's message (which may quote row data).
"""

from __future__ import annotations

import enum
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError, InterfaceError
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

from config.log_filters import describe_exception

from .api_errors import error_response

logger = logging.getLogger("django.request")

API_PATH_PREFIX = "/api/"


class Kind(enum.Enum):
    CONFLICT = "conflict"
    BUSY = "busy"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Failure:
    kind: Kind
    # Whether running the whole request again may succeed (a deadlock or lock wait that another transaction
    # caused); a statement timeout would only time out again.
    retryable: bool
    retry_after: int
    code: str
    message: str


DEADLOCK = Failure(Kind.CONFLICT, True, 1, "conflict", "The request conflicted with another one; try again.")
SERIALIZATION = DEADLOCK
LOCK_TIMEOUT = Failure(
    Kind.BUSY, True, 5, "busy", "The records this request needs are in use by another request; try again later."
)
STATEMENT_TIMEOUT = Failure(Kind.BUSY, False, 30, "busy", "The request took too long; try again later.")
UNAVAILABLE = Failure(
    Kind.UNAVAILABLE, False, 30, "unavailable", "The service is briefly unavailable; try again later."
)

_BY_SQLSTATE = {
    "40P01": DEADLOCK,  # deadlock_detected
    "40001": SERIALIZATION,  # serialization_failure
    "55P03": LOCK_TIMEOUT,  # lock_not_available
    "57014": STATEMENT_TIMEOUT,  # query_canceled
    "57P01": UNAVAILABLE,  # admin_shutdown
    "57P02": UNAVAILABLE,  # crash_shutdown
    "57P03": UNAVAILABLE,  # cannot_connect_now
}


def _postgres_error(exc: BaseException) -> psycopg.Error | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, psycopg.Error):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def classify(exc: BaseException) -> Failure | None:
    """The failure `exc` stands for, or None for any other error (a bug: Django's 500)."""
    if not isinstance(exc, DatabaseError | psycopg.Error):
        return None
    postgres = _postgres_error(exc)
    sqlstate = postgres.sqlstate if postgres is not None else None
    if sqlstate in _BY_SQLSTATE:
        return _BY_SQLSTATE[sqlstate]
    if isinstance(exc, InterfaceError) or isinstance(postgres, psycopg.InterfaceError):
        return UNAVAILABLE  # the connection is closed or was lost
    # psycopg reports a refused or broken connection as an OperationalError without a SQLSTATE.
    if (sqlstate is None and isinstance(postgres, psycopg.OperationalError)) or (sqlstate or "").startswith("08"):
        return UNAVAILABLE
    return None


MAINTENANCE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1><p>{message}</p></body></html>
"""

_PAGE_TITLES = {
    Kind.CONFLICT: "Please try again",
    Kind.BUSY: "Kura is busy",
    Kind.UNAVAILABLE: "Kura is briefly unavailable",
}


def status_of(failure: Failure) -> int:
    return 409 if failure.kind is Kind.CONFLICT else 503


def failure_response(request: HttpRequest, failure: Failure) -> HttpResponse:
    """The answer to a request `failure` stopped: the error shape for the API, a plain page elsewhere."""
    status = status_of(failure)
    response: HttpResponse
    if request.path_info.startswith(API_PATH_PREFIX):
        response = error_response(status, failure.code, failure.message)
    else:
        page = MAINTENANCE_PAGE.format(title=_PAGE_TITLES[failure.kind], message=failure.message)
        response = HttpResponse(page, status=status, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(failure.retry_after)
    add_never_cache_headers(response)
    if failure.kind is Kind.UNAVAILABLE:
        # Unknown, and not to be looked up on the way out (the session and user live in the database): the
        # outer middleware sees an anonymous request.
        request.user = AnonymousUser()
    # Django's request logger would log it again, with a traceback: the line below is the only one.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def log_failure(request: HttpRequest, exc: BaseException, failure: Failure, *, attempts: int = 1) -> None:
    """One line per failed request: the path (UUIDs only, no query string), the answer and the SQLSTATE."""
    logger.warning(
        "Database %s: %s %s answered %s after %s attempt(s): %s",
        failure.kind.value,
        request.method,
        request.path,
        status_of(failure),
        attempts,
        describe_exception(exc),
    )


def or_server_error(server_error: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Django's 500 handler, answering a database failure raised outside the tenant middleware (the session
    saved after the request's transaction) as above: the handler runs inside Django's `except` clause."""

    def handler(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        error = sys.exc_info()[1]
        failure = classify(error) if error is not None else None
        if failure is None:
            return server_error(request, *args, **kwargs)
        log_failure(request, error, failure)  # type: ignore[arg-type]
        return failure_response(request, failure)

    return handler
