"""Deadlocks, lock and statement timeouts, an unreachable database, and the health endpoints: never a 500.

Real PostgreSQL throughout: a second connection (a thread) holds the rows, and the unreachable database is a
closed port.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.db import connection, connections
from django.test import Client

from apps.billing import services as billing_services
from apps.billing.models import LedgerApplication, LedgerEntry
from apps.organizations.models import IdempotencyRecord
from apps.organizations.roles import Role
from tests.billing import factories as bf
from tests.conftest import add_member, api_client, as_key, as_tenant, issue_key, logged_in, make_organization
from tests.factories import PatientFactory

CREDIT_APPLY = "/api/v1/billing/credit-applications/"


def error_of(response: Any) -> dict[str, Any]:
    """The error shape's fields, its request id checked against the response header and set aside."""
    error = dict(response.json()["error"])
    assert error.pop("request_id") == response["X-Request-ID"]
    return error


@pytest.fixture
def clinics(committed: None) -> dict[str, dict[str, Any]]:
    """Two clinics, each with a patient holding 100.00 of credit and owing two 30.00 charges."""
    data = {}
    for slug in ("org-a", "org-b"):
        org = make_organization(slug)
        with as_tenant(org):
            patient = PatientFactory()
            charges = [bf.charge(patient, 3_000, recorded_at=dt.datetime(2025, 1, 15, tzinfo=dt.UTC)) for _ in range(2)]
            credit = billing_services.payment_post(
                patient=patient, amount_cents=10_000, allow_credit=True, transaction_type="retail_product"
            )
        data[slug] = {"org": org, "charges": charges, "credit": credit, "key": issue_key(org)}
    return data


def apply_body(clinic: dict[str, Any]) -> dict[str, Any]:
    """Credit to the first charge, then the second: the request locks the credit, charge 1, then charge 2."""
    return {
        "credit_id": str(clinic["credit"].pk),
        "allocations": [{"charge_id": str(charge.pk), "amount_cents": 3_000} for charge in clinic["charges"]],
    }


def stored(clinic: dict[str, Any]) -> tuple[int, int]:
    """(credit applications, the partner's idempotency records) of the clinic."""
    with as_key(clinic["org"], clinic["key"]):
        return LedgerApplication.objects.count(), IdempotencyRecord.objects.count()


def wait_for_a_lock_wait() -> None:
    """Until another session of this database waits for a lock (the request, blocked on a held row)."""
    with connection.cursor() as cursor:
        for _ in range(200):
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the request never waited for the held row")


class Holder(threading.Thread):
    """Another connection of the clinic: locks `first`, and once the request waits for it, `then` (if given:
    a lock cycle, a deadlock) or until `release` is set (a lock held past the request's timeout)."""

    def __init__(self, org: Any, first: LedgerEntry, then: LedgerEntry | None = None) -> None:
        super().__init__()
        self.org, self.first, self.then = org, first, then
        self.locked, self.release = threading.Event(), threading.Event()
        self.errors: list[BaseException] = []

    def run(self) -> None:
        try:
            with as_tenant(self.org):
                list(LedgerEntry.objects.select_for_update().filter(pk=self.first.pk))
                self.locked.set()
                if self.then is not None:
                    wait_for_a_lock_wait()
                    list(LedgerEntry.objects.select_for_update().filter(pk=self.then.pk))
                    time.sleep(0.2)  # still held when the request runs again: the retry waits, then succeeds
                else:
                    self.release.wait(10)
        except BaseException as error:  # reported by the test
            self.errors.append(error)
            self.locked.set()
        finally:
            connection.close()


def start(holder: Holder) -> Holder:
    holder.start()
    assert holder.locked.wait(10)
    return holder


def database_log_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "django.request"]


def test_runtime_connections_carry_the_timeouts(db: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout') ORDER BY name"
        )
        assert cursor.fetchall() == [
            ("idle_in_transaction_session_timeout", str(settings.KURA_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS)),
            ("lock_timeout", str(settings.KURA_DB_LOCK_TIMEOUT_MS)),
            ("statement_timeout", str(settings.KURA_DB_STATEMENT_TIMEOUT_MS)),
        ]
    assert (settings.KURA_DB_STATEMENT_TIMEOUT_MS, settings.KURA_DB_LOCK_TIMEOUT_MS) == (20_000, 5_000)


def test_a_deadlocked_idempotent_request_runs_again_and_succeeds(clinics, caplog):
    a, b = clinics["org-a"], clinics["org-b"]
    first, second = a["charges"]
    holder = start(Holder(a["org"], second, then=first))
    response = api_client(a["key"]).post(
        CREDIT_APPLY, apply_body(a), content_type="application/json", HTTP_IDEMPOTENCY_KEY="apply-1"
    )
    holder.join()
    assert holder.errors == []
    assert response.status_code == 201
    assert response.json()["credit_remaining_cents"] == 4_000
    assert stored(a) == (2, 1)
    assert stored(b) == (0, 0)
    assert database_log_lines(caplog) == []


def test_a_deadlocked_request_that_may_not_run_again_is_409_and_stores_nothing(clinics, caplog):
    a, b = clinics["org-a"], clinics["org-b"]
    first, second = a["charges"]
    holder = start(Holder(a["org"], second, then=first))
    response = api_client(a["key"]).post(CREDIT_APPLY, apply_body(a), content_type="application/json")
    holder.join()
    assert holder.errors == []
    assert response.status_code == 409
    assert response["Retry-After"] == "1"
    assert error_of(response) == {
        "status": 409,
        "code": "conflict",
        "message": "The request conflicted with another one; try again.",
    }
    assert stored(a) == (0, 0)
    assert stored(b) == (0, 0)
    [line] = database_log_lines(caplog)
    assert line.exc_info is None
    assert "SQLSTATE 40P01 DeadlockDetected" in line.getMessage()


@pytest.fixture
def short_waits(committed: None) -> Iterator[None]:
    """The request's session gives up on a lock after 300 ms (its other timeouts as configured)."""
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '300ms'")
    yield
    connection.close()


def test_a_lock_held_past_the_lock_timeout_is_503_and_stores_nothing(clinics, short_waits, caplog):
    a, b = clinics["org-a"], clinics["org-b"]
    holder = start(Holder(a["org"], a["charges"][1]))
    try:
        response = api_client(a["key"]).post(CREDIT_APPLY, apply_body(a), content_type="application/json")
    finally:
        holder.release.set()
        holder.join()
    assert holder.errors == []
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "busy"
    assert stored(a) == (0, 0)
    assert stored(b) == (0, 0)
    [line] = database_log_lines(caplog)
    assert "SQLSTATE 55P03 LockNotAvailable" in line.getMessage()


def test_an_idempotent_request_retries_a_lock_timeout_a_bounded_number_of_times(clinics, short_waits):
    a = clinics["org-a"]
    holder = start(Holder(a["org"], a["charges"][1]))
    began = time.monotonic()
    try:
        response = api_client(a["key"]).post(
            CREDIT_APPLY, apply_body(a), content_type="application/json", HTTP_IDEMPOTENCY_KEY="apply-2"
        )
    finally:
        holder.release.set()
        holder.join()
    elapsed = time.monotonic() - began
    assert response.status_code == 503
    # Three attempts of 300 ms each, not one and not forever.
    assert settings.KURA_DB_RETRY_ATTEMPTS == 3
    assert 0.9 <= elapsed < 10
    assert stored(a) == (0, 0)
    # The row is free again: the same request, with the same key, now succeeds.
    again = api_client(a["key"]).post(
        CREDIT_APPLY, apply_body(a), content_type="application/json", HTTP_IDEMPOTENCY_KEY="apply-2"
    )
    assert again.status_code == 201
    assert stored(a) == (2, 1)


def test_a_statement_timeout_is_503_with_retry_after(clinics, committed, caplog):
    a = clinics["org-a"]
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = 0")
        cursor.execute("SET statement_timeout = '300ms'")
    holder = start(Holder(a["org"], a["charges"][1]))
    try:
        response = api_client(a["key"]).post(
            CREDIT_APPLY, apply_body(a), content_type="application/json", HTTP_IDEMPOTENCY_KEY="apply-3"
        )
    finally:
        holder.release.set()
        holder.join()
        connection.close()
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert error_of(response) == {
        "status": 503,
        "code": "busy",
        "message": "The request took too long; try again later.",
    }
    assert stored(a) == (0, 0)
    [line] = database_log_lines(caplog)
    assert "SQLSTATE 57014 QueryCanceled" in line.getMessage()
    assert "after 1 attempt(s)" in line.getMessage()


@pytest.fixture
def database_down(committed: None) -> Iterator[Callable[[], None]]:
    """The runtime connection points at a closed port from here on; the callable yielded (and the end of the
    test) points it back at the database."""
    saved = dict(connection.settings_dict)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    connection.close()
    connection.settings_dict.update(
        {"EMBEDDED": False, "HOST": "127.0.0.1", "PORT": str(closed_port), "OPTIONS": {"connect_timeout": 2}}
    )

    def restore() -> None:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)

    try:
        yield restore
    finally:
        restore()


@pytest.fixture
def staff_client(committed: None) -> Client:
    org = make_organization("org-a")
    make_organization("org-b")
    return logged_in(add_member(org, Role.OWNER))


@pytest.fixture
def partner_key(committed: None) -> str:
    return issue_key(make_organization("org-c"))


def test_an_unreachable_database_is_503_json_in_the_api(partner_key, database_down, caplog):
    response = api_client(partner_key).get("/api/v1/patients/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert error_of(response) == {
        "status": 503,
        "code": "unavailable",
        "message": "The service is briefly unavailable; try again later.",
    }
    [line] = database_log_lines(caplog)
    assert line.exc_info is None
    assert line.levelno == logging.WARNING
    assert "OperationalError" in line.getMessage()


def test_an_unreachable_database_is_a_maintenance_page_in_the_admin(staff_client, database_down, caplog):
    # A signed-in session is first read before the tenant middleware (session lifetimes), so its failure reaches
    # Django's error handler, as under gunicorn: the test client must not re-raise it.
    staff_client.raise_request_exception = False
    for client in (staff_client, Client()):
        response = client.get("/admin/")
        assert response.status_code == 503
        assert response["Retry-After"] == "30"
        assert response["Content-Type"] == "text/html; charset=utf-8"
        page = response.content.decode()
        assert "<h1>Kura is briefly unavailable</h1>" in page
        assert "Traceback" not in page
        assert "Server Error" not in page
    assert len(database_log_lines(caplog)) == 2


def test_the_api_serves_again_once_the_database_is_back(partner_key, database_down):
    client = api_client(partner_key)
    assert client.get("/api/v1/patients/").status_code == 503
    database_down()
    response = client.get("/api/v1/patients/")
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_healthz_answers_without_a_database() -> None:
    # No database fixture: any query here would fail the test.
    response = Client().get("/healthz", HTTP_HOST="10.0.0.7")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]


def test_readyz_is_200_when_the_database_answers_as_the_runtime_role_and_migrations_are_applied(committed):
    response = Client().get("/readyz", HTTP_HOST="10.0.0.7")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "migrations": "ok", "keys": "ok"}}
    assert "no-store" in response["Cache-Control"]


def test_readyz_is_503_when_the_keys_cannot_decrypt_the_stored_data(committed, settings):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # well formed, but not the stored data's key
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "migrations": "ok", "keys": "cannot decrypt the stored data"},
    }


def test_readyz_is_503_when_the_database_is_unreachable(database_down):
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "unavailable", "migrations": "unknown", "keys": "unknown"},
    }
    assert "no-store" in response["Cache-Control"]


def test_readyz_is_503_while_a_migration_is_unapplied(committed):
    owner = connections["owner"]
    with owner.cursor() as cursor:
        cursor.execute(
            "DELETE FROM django_migrations WHERE id = (SELECT max(id) FROM django_migrations "
            "WHERE app = 'organizations') RETURNING app, name, applied"
        )
        removed = cursor.fetchone()
    try:
        response = Client().get("/readyz")
    finally:
        with owner.cursor() as cursor:
            cursor.execute("INSERT INTO django_migrations (app, name, applied) VALUES (%s, %s, %s)", removed)
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "migrations": "1 unapplied", "keys": "ok"},
    }
    assert Client().get("/readyz").status_code == 200


def test_a_malformed_timeout_setting_stops_start_up_naming_the_variable() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "KURA_DB_LOCK_TIMEOUT_MS": "5s"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "Kura configuration error: KURA_DB_LOCK_TIMEOUT_MS must be a whole number of milliseconds (0 for none).\n"
    )
    assert "5s" not in result.stderr.replace("KURA_DB_LOCK_TIMEOUT_MS", "")
