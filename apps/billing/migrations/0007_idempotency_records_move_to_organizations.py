"""Billing's idempotency records move to `organizations.IdempotencyRecord`, which serves every POST that creates
money or data (organizations migration 0003).

The rows are copied first, so a client retrying a payment across the upgrade still gets its first response: the
fingerprint is computed as before; the actor (now part of the key's scope, and what row-level security shows a
record to) is read from each record's creation row in the audit trail; a record is CLINICAL_PHI unless its
actor is a partner key without PHI access. Reversed, the tables come back with their RLS as migration 0006
left them, empty: the records now stored include patient and clinical responses, which the old table, without
a PHI policy, must not hold (a retry across a downgrade is a new request).
"""

import importlib

from django.db import migrations
from psycopg import sql

from apps.organizations.rls import ddl, runtime_role

_ROLES = importlib.import_module("apps.billing.migrations.0006_roles_in_tenant_policy")

COPY_SQL = """
INSERT INTO organizations_idempotencyrecord (
    id, created_at, updated_at, organization_id, data_classification, actor, key, fingerprint, response_status,
    response_body)
SELECT r.id, r.created_at, r.updated_at, r.organization_id,
       CASE WHEN k.phi_access IS FALSE THEN 'GENERAL_WELLNESS' ELSE 'CLINICAL_PHI' END,
       coalesce('key:' || created.history_api_key_id, 'user:' || created.history_user_id, ''),
       r.key, r.fingerprint, r.response_status, r.response_body
FROM billing_idempotencyrecord r
LEFT JOIN LATERAL (
    SELECT h.history_api_key_id, h.history_user_id
    FROM billing_historicalidempotencyrecord h
    WHERE h.id = r.id AND h.history_type = '+'
    ORDER BY h.history_date
    LIMIT 1
) created ON true
LEFT JOIN organizations_apikey k ON k.id = created.history_api_key_id
"""


def noop(apps, schema_editor):
    """Forwards, dropping the tables drops their policies."""


def restore_policies(apps, schema_editor):
    """The billing tables' RLS as migrations 0002 and 0006 made it, for the recreated tables."""
    tenant = sql.SQL("organization_id = (SELECT kura_current_org_for_roles({}))").format(_ROLES._roles())
    for table, is_history in (("billing_idempotencyrecord", False), ("billing_historicalidempotencyrecord", True)):
        names = {"table": table, "runtime": runtime_role()}
        schema_editor.execute(ddl("ALTER TABLE {table} ENABLE ROW LEVEL SECURITY", **names))
        schema_editor.execute(ddl("ALTER TABLE {table} FORCE ROW LEVEL SECURITY", **names))
        schema_editor.execute(
            sql.SQL("CREATE POLICY tenant_isolation ON {} AS PERMISSIVE FOR ALL USING ({}) WITH CHECK ({})")
            .format(sql.Identifier(table), tenant, tenant)
            .as_string(None)
        )
        if is_history:
            schema_editor.execute(ddl("REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {runtime}", **names))
            schema_editor.execute(ddl("GRANT UPDATE (history_user_id) ON {table} TO {runtime}", **names))


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0006_roles_in_tenant_policy"),
        ("organizations", "0003_idempotency_records"),
    ]

    operations = [
        migrations.RunSQL(COPY_SQL, migrations.RunSQL.noop),
        migrations.RunPython(noop, restore_policies),
        migrations.DeleteModel(name="HistoricalIdempotencyRecord"),
        migrations.DeleteModel(name="IdempotencyRecord"),
    ]
