"""Background jobs, run by a real procrastinate worker pass as the runtime role, with real commits."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command
from django.db import connection, connections
from procrastinate import RetryStrategy

from apps.organizations.jobs import maintenance_job, tenant_job, unscoped_tasks, worker_app
from apps.organizations.models import IdempotencyRecord
from apps.organizations.roles import Role
from apps.patients import retention
from apps.patients.models import Patient
from apps.patients.tasks import purge_expired_records
from tests.conftest import as_tenant, make_organization
from tests.factories import PatientFactory
from tests.worker import run_worker

pytestmark = pytest.mark.usefixtures("committed")

# What the jobs below saw, appended from the worker's threads.
seen_by_jobs: list[tuple[str, Any]] = []


@pytest.fixture(autouse=True)
def _forget_what_jobs_saw() -> None:
    seen_by_jobs.clear()


@tenant_job(role=Role.OWNER, retry=0)
def rename_every_patient(*, organization_id: uuid.UUID, family_name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        seen_by_jobs.append(("user", cursor.fetchone()[0]))
    seen_by_jobs.append(("organization", organization_id))
    seen_by_jobs.append(("mrns", sorted(Patient.objects.values_list("mrn", flat=True))))
    Patient.objects.update(family_name=family_name)


@tenant_job(role=Role.OWNER, retry=RetryStrategy(max_attempts=1, wait=0))
def fail_after_writing(*, organization_id: uuid.UUID) -> None:
    seen_by_jobs.append(("attempt", organization_id))
    PatientFactory(mrn="HALF-DONE")
    raise RuntimeError("the clearinghouse is down")


@maintenance_job(retry=0)
def note_the_connection(*, using: str) -> None:
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT current_user, coalesce(current_setting('app.current_org', true), '')")
        seen_by_jobs.append(("maintenance", cursor.fetchone()))


# Every worker pass defers the cron-scheduled jobs that fell due in the last minutes (reminders at minute 7 of
# each hour, webhook deliveries every minute): what a pass deferred by schedule depends on the clock, so these
# tests, which are about the jobs they defer themselves, leave those out.


def jobs() -> list[tuple[str, str, int]]:
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT task_name, status::text, attempts FROM procrastinate_jobs j WHERE NOT EXISTS "
            "(SELECT FROM procrastinate_periodic_defers d WHERE d.job_id = j.id) ORDER BY id"
        )
        return [(name.rsplit(".", 1)[-1], status, attempts) for name, status, attempts in cursor.fetchall()]


def family_names(organization: Any) -> list[str]:
    with as_tenant(organization):
        return sorted(Patient.objects.values_list("family_name", flat=True))


def test_a_tenant_job_run_by_the_worker_sees_and_changes_only_its_organization():
    org_a, org_b = make_organization("org-a"), make_organization("org-b")
    with as_tenant(org_a):
        PatientFactory(mrn="A-1", family_name="Original")
        PatientFactory(mrn="A-2", family_name="Original")
    with as_tenant(org_b):
        PatientFactory(mrn="B-1", family_name="Original")

    rename_every_patient.defer(organization_id=str(org_a.pk), family_name="Renamed")
    run_worker()

    assert seen_by_jobs == [
        ("user", connections["default"].settings_dict["USER"]),
        ("organization", org_a.pk),
        ("mrns", ["A-1", "A-2"]),
    ]
    assert family_names(org_a) == ["Renamed", "Renamed"]
    assert family_names(org_b) == ["Original"]
    assert jobs() == [("rename_every_patient", "succeeded", 1)]


def test_a_job_without_an_organization_reads_and_changes_nothing():
    org_a = make_organization("org-a")
    with as_tenant(org_a):
        PatientFactory(mrn="A-1", family_name="Original")

    rename_every_patient.defer(family_name="Renamed")  # no organization at all
    rename_every_patient.defer(organization_id=str(uuid.uuid4()), family_name="Renamed")  # nobody's
    run_worker()

    assert ("mrns", []) in seen_by_jobs
    assert not any(kind == "mrns" and mrns for kind, mrns in seen_by_jobs)
    assert family_names(org_a) == ["Original"]
    assert jobs() == [("rename_every_patient", "failed", 1), ("rename_every_patient", "succeeded", 1)]


def test_a_maintenance_job_runs_on_the_owner_connection_outside_any_tenant():
    note_the_connection.defer()
    run_worker()

    assert seen_by_jobs == [("maintenance", (connections["owner"].settings_dict["USER"], ""))]
    assert jobs() == [("note_the_connection", "succeeded", 1)]


def test_a_failing_job_is_retried_then_kept_as_failed_with_its_writes_undone():
    org_a = make_organization("org-a")

    fail_after_writing.defer(organization_id=str(org_a.pk))
    run_worker()

    assert seen_by_jobs == [("attempt", org_a.pk), ("attempt", org_a.pk)]
    assert jobs() == [("fail_after_writing", "failed", 2)]
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT e.type::text FROM procrastinate_events e JOIN procrastinate_jobs j ON j.id = e.job_id "
            "WHERE j.task_name LIKE %s ORDER BY e.id",
            ["%.fail_after_writing"],
        )
        events = [row[0] for row in cursor.fetchall()]
    assert events == ["deferred", "started", "scheduled", "deferred_for_retry", "started", "failed"]
    with as_tenant(org_a):
        assert not Patient.objects.filter(mrn="HALF-DONE").exists()


def _row_counts(labels: set[str]) -> Counter[str]:
    return Counter({label: apps.get_model(label)._base_manager.using("owner").count() for label in labels})


def test_the_daily_purge_job_removes_exactly_what_purge_expired_records_would():
    now = datetime.now(UTC).replace(microsecond=0)
    org_a, org_b = make_organization("org-a"), make_organization("org-b")
    with as_tenant(org_a):
        expired_a, recent_a, _ = PatientFactory(mrn="OLD-A"), PatientFactory(mrn="NEW-A"), PatientFactory()
    with as_tenant(org_b):
        expired_b, _ = PatientFactory(mrn="OLD-B"), PatientFactory()
    for organization, age in ((org_a, timedelta(days=2)), (org_b, timedelta(days=2)), (org_a, timedelta(hours=1))):
        IdempotencyRecord.objects.using("owner").create(
            organization=organization, actor="user:1", key=f"k-{organization.slug}-{age}", fingerprint="f"
        )
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "UPDATE organizations_idempotencyrecord SET created_at = %s WHERE key LIKE %s",
            [now - timedelta(days=2), "%2 days%"],
        )
        cursor.execute(
            "UPDATE patients_patient SET deleted_at = %s WHERE id = ANY(%s)",
            [now - timedelta(days=8 * 365), [expired_a.pk, expired_b.pk]],
        )
        cursor.execute(
            "UPDATE patients_patient SET deleted_at = %s WHERE id = %s", [now - timedelta(days=30), recent_a.pk]
        )

    out = StringIO()
    call_command("purge_expired_records", "--as-of", now.isoformat(), stdout=out)
    would_remove = Counter(
        {label: int(count) for count, label in re.findall(r"Would remove (\d+) (\S+) record", out.getvalue())}
    )
    assert would_remove == Counter({"patients.patient": 2, "organizations.idempotencyrecord": 2})
    before = _row_counts(set(would_remove) | {"patients.patient", "organizations.idempotencyrecord"})

    purge_expired_records.defer(timestamp=int(now.timestamp()))
    run_worker()

    after = _row_counts(set(before))
    assert before - after == would_remove
    assert retention.purge_expired(now=now, apply=False).removed == Counter()
    assert jobs() == [("purge_expired_records", "succeeded", 1)]


def test_the_purge_is_scheduled_daily_and_every_job_declares_its_context():
    app = worker_app()
    schedules = {task.task.name: task.cron for task in app.periodic_registry.periodic_tasks.values()}
    assert schedules == {
        "apps.patients.tasks.purge_expired_records": "17 3 * * *",
        "apps.scheduling.tasks.send_appointment_reminders": "7 * * * *",
        "apps.events.tasks.webhooks_tick": "* * * * *",
        "apps.billing.tasks.clearinghouse_tick": "*/10 * * * *",
    }
    assert unscoped_tasks() == []


def test_the_runtime_role_only_reads_and_writes_the_job_tables():
    """Created by `migrate` as the owner: the runtime role gets plain DML, owns nothing and alters nothing."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, string_agg(p.privilege_type::text, ',' ORDER BY p.privilege_type), "
            "pg_get_userbyid(c.relowner) "
            "FROM pg_class c JOIN information_schema.table_privileges p "
            "ON p.table_name = c.relname AND p.table_schema = 'public' AND p.grantee = current_user "
            "WHERE c.relname LIKE 'procrastinate%%' AND c.relkind = 'r' GROUP BY c.relname, c.relowner ORDER BY 1"
        )
        tables = cursor.fetchall()
        cursor.execute(
            "SELECT count(*) FROM pg_proc WHERE proname LIKE 'procrastinate%%' AND proowner = "
            "(SELECT oid FROM pg_roles WHERE rolname = current_user)"
        )
        owned_functions = cursor.fetchone()[0]
    owner = connections["owner"].settings_dict["USER"]
    assert [name for name, _, _ in tables] == [
        "procrastinate_events",
        "procrastinate_jobs",
        "procrastinate_periodic_defers",
        "procrastinate_workers",
    ]
    assert {(privileges, table_owner) for _, privileges, table_owner in tables} == {
        ("DELETE,INSERT,SELECT,UPDATE", owner)
    }
    assert owned_functions == 0


def test_no_clinic_admin_lists_the_jobs_of_every_organization():
    assert [model for model in admin.site._registry if model._meta.app_label == "procrastinate"] == []
