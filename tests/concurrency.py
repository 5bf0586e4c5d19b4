"""Helpers for tests that play a second transaction against a request: a raw owner connection, and a wait
until some session is blocked behind it."""

from __future__ import annotations

import time

import psycopg
from django.db import connections


def owner_connection() -> psycopg.Connection:
    """A psycopg connection of its own, as the owner role (no RLS), outside Django's connection handling."""
    params = connections["owner"].get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    params.pop("server_side_binding", None)
    return psycopg.connect(**params)


def wait_until_blocked(owner: psycopg.Connection, holder_pid: int, timeout: float = 20.0) -> None:
    """Return once some session waits on a lock `holder_pid` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with owner.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE %s = ANY (pg_blocking_pids(pid))", [holder_pid])
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)
    raise AssertionError("The request never waited on the other transaction.")
