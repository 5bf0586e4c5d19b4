"""Background jobs: procrastinate on Kura's own PostgreSQL, every job in an explicit context.

A job is declared with one of two decorators, never with `app.task` directly:
- `tenant_job(role=...)`: the job takes `organization_id` and runs in one transaction inside
  `tenant_context(organization_id, role)`, so row-level security shows it that organization's rows only;
- `maintenance_job()`: cross-tenant upkeep (retention purge, ...) that receives `using=OWNER_DATABASE` and
  does its work on the owner connection, as the maintenance commands do.

Job arguments are stored in the jobs table, which has no row-level security: pass ids, never patient values.
Enqueue with `some_job.defer(organization_id=str(org.id), ...)` (inside a request, the job is stored in the
request's transaction and exists only if it commits); `manage.py procrastinate worker` runs them.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any

from django.db import connections
from procrastinate import App, RetryStrategy
from procrastinate.contrib.django import app
from procrastinate.tasks import Task

from . import context
from .roles import Role

OWNER_DATABASE = "owner"
# A failed job is tried again up to 5 times, 5 s, 25 s, 125 s, ... after each failure (about an hour in all); then
# it stays `failed` in the jobs table with its events, for an operator to look at and retry.
DEFAULT_RETRY = RetryStrategy(max_attempts=5, exponential_wait=5)
# Marks the functions these decorators made; `unscoped_tasks()` lists every task without it.
_SCOPED = "_kura_job_scope"


def _release_connections() -> None:
    """A job owns its connections as a request does: closed when it ends, unless it ran inside a caller's
    transaction (a job function called directly)."""
    open_connections = connections.all(initialized_only=True)
    if not any(connection.in_atomic_block for connection in open_connections):
        for connection in open_connections:
            connection.close()


def tenant_job(
    *, role: Role, name: str | None = None, retry: RetryStrategy | int = DEFAULT_RETRY, queue: str = "default"
) -> Callable[[Callable[..., None]], Task[Any, Any, Any]]:
    """A job for one organization, run as `role` in that organization's tenant context.

    The decorated function is called as `func(organization_id=UUID, **kwargs)` inside the tenant transaction.
    """

    def decorate(func: Callable[..., None]) -> Task[Any, Any, Any]:
        @functools.wraps(func)
        def run(*, organization_id: str, **kwargs: Any) -> None:
            organization = uuid.UUID(str(organization_id))
            try:
                with context.tenant_context(organization, role):
                    func(organization_id=organization, **kwargs)
            finally:
                _release_connections()

        setattr(run, _SCOPED, "tenant")
        return app.task(name=name or _task_name(func), retry=retry, queue=queue)(run)

    return decorate


def maintenance_job(
    *,
    name: str | None = None,
    periodic: str | None = None,
    retry: RetryStrategy | int = DEFAULT_RETRY,
    queue: str = "maintenance",
) -> Callable[[Callable[..., None]], Task[Any, Any, Any]]:
    """Cross-tenant upkeep on the owner connection, optionally on a cron schedule (`periodic="0 3 * * *"`).

    The decorated function is called as `func(using=OWNER_DATABASE, **kwargs)`, outside any tenant context;
    a periodic job also receives `timestamp`, the scheduled time in seconds since the epoch.
    """

    def decorate(func: Callable[..., None]) -> Task[Any, Any, Any]:
        @functools.wraps(func)
        def run(**kwargs: Any) -> None:
            if context.current() is not None:
                raise RuntimeError("A maintenance job runs outside any tenant context.")
            try:
                func(using=OWNER_DATABASE, **kwargs)
            finally:
                _release_connections()

        setattr(run, _SCOPED, "maintenance")
        task = app.task(name=name or _task_name(func), retry=retry, queue=queue)(run)
        if periodic is not None:
            # The wrapper takes **kwargs; procrastinate types a periodic task as one taking `timestamp`.
            app.periodic(cron=periodic, periodic_id=task.name)(task)  # type: ignore[arg-type]
        return task

    return decorate


def _task_name(func: Callable[..., None]) -> str:
    return f"{func.__module__}.{func.__qualname__}"


def unscoped_tasks() -> list[str]:
    """Kura tasks declared without `tenant_job` or `maintenance_job` (procrastinate's own excepted)."""
    return sorted(
        name
        for name, task in app.tasks.items()
        if not name.startswith(("procrastinate.", "builtin:procrastinate."))
        and getattr(task.func, _SCOPED, None) is None
    )


def worker_app() -> App:
    """The app with a connector able to run a worker (the Django connector only enqueues)."""
    return app.with_connector(app.connector.get_worker_connector())  # type: ignore[attr-defined]
