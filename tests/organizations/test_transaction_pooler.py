"""Kura behind a connection pooler in transaction mode (PgBouncer, `pool_mode = transaction`).

Such a pooler lends each transaction whichever server connection is free: whatever one client leaves in a
session is there for the next client. `KURA_DB_POOLER=transaction` switches off what would live in a session
(prepared statements, server-side cursors, the startup options carrying the timeouts, the worker's LISTEN); the
tenant context is transaction-local anyway. Shown here with Debian's PgBouncer in front of the test database:
the isolation-under-load scenario served by gunicorn through it, and no tenant setting (nor prepared statement,
cursor, lock or LISTEN) left on the server connections afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.test import override_settings

from tests import isolation_load, pgbouncer
from tests.conftest import as_tenant, make_organization
from tests.live import serving

ROOT = Path(__file__).resolve().parents[2]
TENANT_SETTINGS = ("app.current_org", "app.user_role", "app.user_id", "app.actor")
SHOW_DATABASE_SETTINGS = """
import json, django
django.setup()
from django.conf import settings
default = settings.DATABASES["default"]
print(json.dumps({
    "options": default.get("OPTIONS", {}),
    "server_side_cursors_off": default.get("DISABLE_SERVER_SIDE_CURSORS", False),
    "transaction_settings": settings.KURA_DB_TRANSACTION_SETTINGS,
    "worker": getattr(settings, "PROCRASTINATE_WORKER_DEFAULTS", None),
}))
"""


def database_settings(**environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SHOW_DATABASE_SETTINGS],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", **environment},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_behind_a_transaction_pooler_nothing_rides_on_the_session():
    result = database_settings(KURA_DB_POOLER="transaction", KURA_DB_STATEMENT_TIMEOUT_MS="15000")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    # No startup `options` (PgBouncer refuses them), nothing prepared, no server-side binding.
    assert shown["options"] == {"prepare_threshold": None}
    assert shown["server_side_cursors_off"] is True
    # The timeouts come with the tenant context in every transaction instead.
    assert shown["transaction_settings"] == {
        "statement_timeout": "15000",
        "lock_timeout": "5000",
        "idle_in_transaction_session_timeout": "60000",
    }
    assert shown["worker"] == {"listen_notify": False}


def test_without_a_pooler_the_timeouts_ride_on_the_connection():
    result = database_settings()
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["options"] == {
        "server_side_binding": True,
        "prepare_threshold": 5,
        "options": "-c statement_timeout=20000 -c lock_timeout=5000 -c idle_in_transaction_session_timeout=60000",
    }
    assert shown["server_side_cursors_off"] is False
    assert shown["transaction_settings"] == {}
    assert shown["worker"] is None


def test_an_unknown_pooler_mode_stops_with_one_line():
    result = database_settings(KURA_DB_POOLER="statement")
    assert result.returncode == 2
    assert result.stderr == "Kura configuration error: KURA_DB_POOLER must be one of none, transaction.\n"
    assert result.stdout == ""


def current_timeouts() -> tuple[str, str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'), "
            "current_setting('idle_in_transaction_session_timeout')"
        )
        return cursor.fetchone()


@override_settings(
    KURA_DB_TRANSACTION_SETTINGS={
        "statement_timeout": "1234",
        "lock_timeout": "567",
        "idle_in_transaction_session_timeout": "8900",
    }
)
def test_the_timeouts_are_set_in_each_tenant_transaction_and_end_with_it(committed):
    org = make_organization("org-a")
    outside = current_timeouts()
    with as_tenant(org):
        assert current_timeouts() == ("1234ms", "567ms", "8900ms")
    assert current_timeouts() == outside


def session_leftovers(client: Any) -> dict[str, Any]:
    """What a server connection carries from earlier clients, read by a new client inside its own transaction."""
    row = client.execute(
        "SELECT pg_backend_pid(), backend_start, "
        "current_setting('app.current_org', true), current_setting('app.user_role', true), "
        "current_setting('app.user_id', true), current_setting('app.actor', true), "
        "(SELECT count(*) FROM pg_prepared_statements), (SELECT count(*) FROM pg_cursors), "
        "(SELECT count(*) FROM pg_listening_channels()), "
        "(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) "
        "FROM pg_stat_activity WHERE pid = pg_backend_pid()"
    ).fetchone()
    pid, started, *tenant, prepared, cursors, listening, advisory = row
    return {
        "pid": pid,
        "started": started,
        "tenant": dict(zip(TENANT_SETTINGS, tenant, strict=True)),
        "prepared": prepared,
        "cursors": cursors,
        "listening": listening,
        "advisory": advisory,
    }


def test_a_server_connection_keeps_session_settings_for_the_next_client_but_not_transaction_ones(committed):
    """The pooler really hands one client's server connection to the next: a session-level setting would travel
    with it, a transaction-local one (Kura's tenant context) does not."""
    org = make_organization("org-a")
    with pgbouncer.running(pool_size=1) as pooler:
        with pooler.connect() as first:
            with first.transaction():
                first.execute("SELECT set_config('app.current_org', %s, true)", [str(org.id)])
                first_pid = pgbouncer.backend_pid(first)
                assert first.execute("SELECT kura_current_org()").fetchone() == (org.id,)
            first.execute("SELECT set_config('app.user_role', 'owner', false)")  # what Kura never does
        with pooler.connect() as second, second.transaction():
            leftovers = session_leftovers(second)
        assert leftovers["pid"] == first_pid
        assert leftovers["tenant"]["app.current_org"] in ("", None)
        assert leftovers["tenant"]["app.user_role"] == "owner"


POOL_SIZE = 2
WORKERS = 3
THREADS = 6
REQUESTS_PER_THREAD = 30


def test_isolation_under_load_through_pgbouncer_leaves_no_tenant_context_on_server_connections(committed, tmp_path):
    """Three gunicorn workers share two server connections; requests of both organizations and both roles
    interleave on them. Every answer holds only its own organization's rows, every write lands once in its own
    organization, and afterwards each server connection, handed to a new client, carries nothing of theirs."""
    clinics = isolation_load.make_clinics()
    with pgbouncer.running(pool_size=POOL_SIZE) as pooler:
        environment = {
            "DATABASE_URL": pooler.url,
            "DATABASE_OWNER_URL": pgbouncer.owner_url(),
            "KURA_DB_POOLER": "transaction",
            "API_KEY_RATE": "1000000/min",
        }
        with serving(tmp_path, workers=WORKERS, **environment) as server:
            isolation_load.run(server, clinics, threads=THREADS, requests_per_thread=REQUESTS_PER_THREAD)
            with connection.cursor() as cursor:
                cursor.execute("SELECT now()")
                load_ended = cursor.fetchone()[0]
            # Every server connection at once (each client holds one in its transaction): both served the load.
            clients = [pooler.connect() for _ in range(POOL_SIZE)]
            try:
                for client in clients:
                    client.execute("BEGIN")
                leftovers = [session_leftovers(client) for client in clients]
            finally:
                for client in clients:
                    client.close()
    assert len({found["pid"] for found in leftovers}) == POOL_SIZE
    for found in leftovers:
        assert found["started"] < load_ended
        assert set(found["tenant"].values()) <= {"", None}, found["tenant"]
        assert (found["prepared"], found["cursors"], found["listening"], found["advisory"]) == (0, 0, 0, 0)
    assert settings.KURA_DB_TRANSACTION_SETTINGS == {}  # this process talks to the database itself
