"""Migration billing/0007: billing's idempotency records move to `organizations.IdempotencyRecord` with the actor
read from each record's creation row in the audit trail and a classification from the actor's PHI access; the
reverse brings the old tables back empty, under their row-level security."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from apps.organizations import keys
from apps.organizations.models import APIKey, IdempotencyRecord
from apps.organizations.roles import Role
from tests.conftest import add_member, as_key, as_tenant, issue_key, make_organization

BEFORE = ("billing", "0006_roles_in_tenant_policy")

RECORD_SQL = """
INSERT INTO billing_idempotencyrecord
    (id, created_at, updated_at, organization_id, key, fingerprint, response_status, response_body)
VALUES (%s, %s, %s, %s, %s, %s, 201, %s)
"""
HISTORY_SQL = """
INSERT INTO billing_historicalidempotencyrecord
    (id, created_at, updated_at, organization_id, key, fingerprint, response_status, response_body,
     history_date, history_type, history_user_id, history_api_key_id)
VALUES (%s, %s, %s, %s, %s, %s, 201, %s, %s, '+', %s, %s)
"""


def key_id(organization: Any, raw_key: str) -> uuid.UUID:
    with as_tenant(organization):
        return APIKey.objects.get(prefix=keys.parse_prefix(raw_key)).pk


def store(organization_id: uuid.UUID, key: str, *, user_id: int | None = None, api_key_id: Any = None) -> None:
    now = timezone.now()
    record_id = uuid.uuid4()
    body = json.dumps({"id": key})
    with connections["owner"].cursor() as cursor:
        cursor.execute(RECORD_SQL, [record_id, now, now, organization_id, key, "f" * 64, body])
        if user_id is not None or api_key_id is not None:
            cursor.execute(
                HISTORY_SQL, [record_id, now, now, organization_id, key, "f" * 64, body, now, user_id, api_key_id]
            )


@pytest.mark.usefixtures("committed")
def test_records_move_with_their_actor_and_classification_and_stay_in_their_organization():
    org_a, org_b = make_organization("org-a"), make_organization("org-b")
    clerk = add_member(org_a, Role.BILLING)
    phi_raw, plain_raw = issue_key(org_a, phi_access=True), issue_key(org_b, phi_access=False)
    phi_key, plain_key = key_id(org_a, phi_raw), key_id(org_b, plain_raw)

    connections["default"].close()
    executor = MigrationExecutor(connections["owner"])
    executor.migrate([BEFORE])
    try:
        with connections["owner"].cursor() as cursor:
            # The reverse of 0007 recreated the old tables empty, with RLS forced and the tenant policy.
            cursor.execute(
                "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                "WHERE relname IN ('billing_idempotencyrecord', 'billing_historicalidempotencyrecord') ORDER BY 1"
            )
            assert cursor.fetchall() == [
                ("billing_historicalidempotencyrecord", True, True),
                ("billing_idempotencyrecord", True, True),
            ]
            cursor.execute(
                "SELECT tablename FROM pg_policies WHERE policyname = 'tenant_isolation' "
                "AND tablename IN ('billing_idempotencyrecord', 'billing_historicalidempotencyrecord') ORDER BY 1"
            )
            assert [row[0] for row in cursor.fetchall()] == [
                "billing_historicalidempotencyrecord",
                "billing_idempotencyrecord",
            ]
        store(org_a.id, "by-clerk", user_id=clerk.pk)
        store(org_a.id, "by-phi-key", api_key_id=phi_key)
        store(org_b.id, "by-plain-key", api_key_id=plain_key)
        store(org_a.id, "no-audit-row")
    finally:
        connections["default"].close()
        executor = MigrationExecutor(connections["owner"])
        executor.migrate(executor.loader.graph.leaf_nodes())

    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT organization_id, key, actor, data_classification, response_status, response_body->>'id' "
            "FROM organizations_idempotencyrecord ORDER BY key"
        )
        moved = cursor.fetchall()
    assert moved == [
        (org_a.id, "by-clerk", f"user:{clerk.pk}", "CLINICAL_PHI", 201, "by-clerk"),
        (org_a.id, "by-phi-key", f"key:{phi_key}", "CLINICAL_PHI", 201, "by-phi-key"),
        (org_b.id, "by-plain-key", f"key:{plain_key}", "GENERAL_WELLNESS", 201, "by-plain-key"),
        (org_a.id, "no-audit-row", "", "CLINICAL_PHI", 201, "no-audit-row"),
    ]
    # Through the app's role, each caller sees its own record and no other organization's.
    with as_key(org_b, plain_raw):
        assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["by-plain-key"]
    with as_key(org_a, phi_raw):
        assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["by-phi-key"]
