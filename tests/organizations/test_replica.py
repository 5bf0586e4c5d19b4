"""Reports read from a streaming replica (REPLICA_DATABASE_URL), with the tenant context set there too.

A real hot standby of the test server (`tests/replica.py`) and gunicorn serving Kura with both: the aging report
and the totals read the replica (a charge written while the replica's replay is paused is missing from them until
it replays, while the patient's balance, read from the primary, has it at once); writes go to the primary; the
replica separates the organizations by row-level security like the primary; and a replica that is gone leaves
the reports to the primary.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from apps.billing import selectors
from apps.organizations.roles import Scope
from config import embedded_db
from tests.billing import factories as bf
from tests.conftest import as_tenant, issue_key, make_organization
from tests.factories import PatientFactory
from tests.live import key_headers, serving
from tests.replica import streaming_replica

ROOT = Path(__file__).resolve().parents[2]
AMOUNTS = {"a": 10_000, "b": 777}
LATER_CHARGE = 500


@pytest.fixture
def clinics() -> dict[str, Any]:
    data = {}
    for name, amount in AMOUNTS.items():
        org = make_organization(f"org-{name}")
        with as_tenant(org):
            patient = PatientFactory()
            bf.charge(patient, amount)
        raw_key = issue_key(org, scopes=[Scope.BILLING_READ, Scope.BILLING_WRITE])
        data[name] = {"org": org, "patient": patient, "headers": key_headers(raw_key)}
    return data


def outstanding(url: str, clinic: dict[str, Any]) -> tuple[int, int]:
    """(aging report total, total charged) of one organization, as its reports show them."""
    aging = requests.get(f"{url}/api/v1/billing/aging/", headers=clinic["headers"], timeout=30)
    totals = requests.get(f"{url}/api/v1/billing/totals/", headers=clinic["headers"], timeout=30)
    assert (aging.status_code, totals.status_code) == (200, 200)
    return sum(row["total"] for row in aging.json()), sum(row["amount_cents"] for row in totals.json())


def patient_due(url: str, clinic: dict[str, Any]) -> int:
    """The patient's balance: read from the primary, never the replica."""
    path = f"/api/v1/billing/patients/{clinic['patient'].pk}/balance/"
    response = requests.get(f"{url}{path}", headers=clinic["headers"], timeout=30)
    assert response.status_code == 200
    return sum(row["patient_due"] for row in response.json())


def visible_organizations(connection: psycopg.Connection) -> set[uuid.UUID]:
    return {row[0] for row in connection.execute("SELECT DISTINCT organization_id FROM billing_ledgerentry")}


@pytest.mark.usefixtures("committed")
def test_reports_read_the_streaming_replica_in_the_tenant_context_and_writes_stay_on_the_primary(clinics, tmp_path):
    a, b = clinics["a"], clinics["b"]
    with streaming_replica() as replica:
        environment = {"REPLICA_DATABASE_URL": replica.url(embedded_db.RUNTIME_ROLE)}
        with serving(tmp_path, workers=1, **environment) as server:
            assert outstanding(server.url, a) == (10_000, 10_000)
            assert outstanding(server.url, b) == (777, 777)

            # Replay paused: a charge recorded through Kura lands on the primary (its balance has it) and is not yet
            # in the reports, which read the replica.
            replica.pause_replay()
            body = {
                "patient_id": str(a["patient"].pk),
                "transaction_type": "retail_product",
                "amount_cents": LATER_CHARGE,
                "service_date": "2025-01-15",
                "metadata": {"sku": "OIL-1", "quantity": 1},
            }
            charged = requests.post(
                f"{server.url}/api/v1/billing/charges/",
                json=body,
                headers={**a["headers"], "Idempotency-Key": "later-charge"},
                timeout=30,
            )
            assert charged.status_code == 201
            assert patient_due(server.url, a) == 10_500
            assert outstanding(server.url, a) == (10_000, 10_000)

            replica.resume_replay()
            replica.wait_for_replay()
            assert outstanding(server.url, a) == (10_500, 10_500)
            assert outstanding(server.url, b) == (777, 777)

            # The reports' connection on the replica is the runtime role's.
            with replica.connect("postgres", "postgres") as superuser:
                sessions = superuser.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND datname = %s",
                    [embedded_db.RUNTIME_ROLE, replica.database],
                ).fetchone()
            assert sessions is not None
            assert sessions[0] >= 1

            # Row-level security on the replica: nothing without a context, one organization's rows with it, and
            # no write at all.
            with replica.connect(embedded_db.RUNTIME_ROLE) as runtime:
                assert visible_organizations(runtime) == set()
                for clinic in (a, b):
                    with runtime.transaction():
                        runtime.execute("SET TRANSACTION READ ONLY")
                        runtime.execute(
                            "SELECT set_config('app.current_org', %s, true), "
                            "set_config('app.user_role', 'owner', true)",
                            [str(clinic["org"].id)],
                        )
                        assert visible_organizations(runtime) == {clinic["org"].id}
                with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                    runtime.execute("DELETE FROM billing_ledgerentry")

            # The replica gone: the reports read the primary, and say so in the log.
            replica.stop()
            assert outstanding(server.url, a) == (10_500, 10_500)
            assert outstanding(server.url, b) == (777, 777)
            assert "The read replica is unreachable" in server.log.read_text()
    # The charge is stored once, on the primary.
    with as_tenant(a["org"]):
        assert selectors.patient_balance(patient_id=a["patient"].pk).patient_due == 10_500


CONNECT_REPLICA = """
import django
django.setup()
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
try:
    connections["replica"].ensure_connection()
except ImproperlyConfigured as error:
    print(error)
"""


def run_with_replica_url(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CONNECT_REPLICA],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "REPLICA_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_replica_role_that_bypasses_row_level_security_is_refused():
    server = embedded_db.ensure_running()
    result = run_with_replica_url(f"postgresql://postgres@/kura?host={server.socket_dir}&port={server.port}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("The database role 'postgres' of the 'replica' connection bypasses row-level")


def test_a_malformed_replica_url_stops_with_one_line():
    result = run_with_replica_url("mysql://kura_app@replica/kura")
    assert result.returncode == 2
    assert result.stderr == (
        "Kura configuration error: REPLICA_DATABASE_URL is malformed: "
        "expected postgresql://user:password@host:port/database.\n"
    )
