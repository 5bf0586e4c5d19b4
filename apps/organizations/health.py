"""`/healthz` and `/readyz` for load balancers and orchestrators, answered before any other middleware.

* `/healthz`: the process answers. Touches no database, so a database outage does not make the orchestrator
  restart every web worker.
* `/readyz`: this process can serve requests: the database answers as the runtime role (no superuser, no
  BYPASSRLS), no migration on disk is unapplied, and the field-encryption keys open the key canary. 503
  otherwise, naming the failed check.

No session, no tenant context, no authentication, no host check (probes address the server by IP), and nothing
about patients or organizations in the answer; `Cache-Control: no-store` so no proxy keeps a stale state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.utils.cache import add_never_cache_headers

from config.log_filters import describe_exception

from . import key_canary

logger = logging.getLogger("django.request")

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"


def readiness_checks() -> dict[str, str]:
    """Each check's outcome: "ok", or what is wrong (no data, no error message)."""
    connection = connections[DEFAULT_DB_ALIAS]
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
            row = cursor.fetchone()
        checks["database"] = "ok" if row is not None and not row[0] else "not the runtime role"
        executor = MigrationExecutor(connection)
        unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
        checks["migrations"] = f"{len(unapplied)} unapplied" if unapplied else "ok"
        checks["keys"] = "ok" if key_canary.field_keys_problem() is None else "cannot decrypt the stored data"
    except DatabaseError as error:
        logger.warning("Readiness: database unavailable: %s", describe_exception(error))
        checks.setdefault("database", "unavailable")
        checks.setdefault("migrations", "unknown")
        checks.setdefault("keys", "unknown")
    return checks


def _answer(status: int, body: dict[str, object]) -> JsonResponse:
    response = JsonResponse(body, status=status)
    add_never_cache_headers(response)
    return response


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info == HEALTH_PATH:
            return _answer(200, {"status": "ok"})
        if request.path_info == READY_PATH:
            checks = readiness_checks()
            ready = all(outcome == "ok" for outcome in checks.values())
            return _answer(200 if ready else 503, {"status": "ok" if ready else "unavailable", "checks": checks})
        return self.get_response(request)
