"""Billing tables: the role check moves into the tenant policy, so the planner estimates their rows correctly.

Migration 0002 gave every billing table (and its history) the tenant policy `organization_id = (SELECT
kura_current_org())` plus a restrictive `role_restriction` policy `(SELECT kura_current_role()) = ANY (...)`.
PostgreSQL cannot estimate the second one: it takes it to keep 3% of the rows, so on an organization's 400,000
ledger entries it planned for a few hundred and chose plans fit for those (an on-disk sort by currency in the
aging report where the same statement without RLS hashes). Now one permissive policy says both:

    organization_id = (SELECT kura_current_org_for_roles(ARRAY['owner', 'billing', ...]))

`kura_current_org_for_roles()` is the current organization when the current role is one of those, else NULL,
which matches no row: the same rule (coaches see and write nothing), and the planner merges the policy with a
query's own `organization_id = (SELECT kura_current_org())` filter into one index condition, estimated as
without RLS.
"""

import importlib

from django.db import migrations
from psycopg import sql

# The tables and roles of migration 0002.
_INITIAL = importlib.import_module("apps.billing.migrations.0002_row_level_security")
BILLING_DB_ROLES = _INITIAL.BILLING_DB_ROLES
TABLES = [table for model in _INITIAL.RLS_MODELS for table in (f"billing_{model}", f"billing_historical{model}")]

FUNCTION_SQL = """
CREATE FUNCTION kura_current_org_for_roles(roles text[]) RETURNS uuid LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN kura_current_role() = ANY (roles) THEN kura_current_org() END $$;
"""
DROP_FUNCTION_SQL = "DROP FUNCTION kura_current_org_for_roles(text[]);"


def _roles() -> sql.Composable:
    return sql.SQL("ARRAY[{}]::text[]").format(sql.SQL(", ").join(map(sql.Literal, BILLING_DB_ROLES)))


def fold_roles(apps, schema_editor):
    tenant = sql.SQL("organization_id = (SELECT kura_current_org_for_roles({}))").format(_roles())
    for table in TABLES:
        schema_editor.execute(
            sql.SQL("DROP POLICY role_restriction ON {}").format(sql.Identifier(table)).as_string(None)
        )
        schema_editor.execute(
            sql.SQL("ALTER POLICY tenant_isolation ON {} USING ({}) WITH CHECK ({})")
            .format(sql.Identifier(table), tenant, tenant)
            .as_string(None)
        )


def unfold_roles(apps, schema_editor):
    allowed = sql.SQL("(SELECT kura_current_role()) = ANY ({})").format(_roles())
    for table in TABLES:
        schema_editor.execute(
            sql.SQL(
                "ALTER POLICY tenant_isolation ON {} USING (organization_id = (SELECT kura_current_org())) "
                "WITH CHECK (organization_id = (SELECT kura_current_org()))"
            )
            .format(sql.Identifier(table))
            .as_string(None)
        )
        schema_editor.execute(
            sql.SQL("CREATE POLICY role_restriction ON {} AS RESTRICTIVE FOR ALL USING ({}) WITH CHECK ({})")
            .format(sql.Identifier(table), allowed, allowed)
            .as_string(None)
        )


class Migration(migrations.Migration):
    dependencies = [("billing", "0005_applied_totals")]

    operations = [
        migrations.RunSQL(FUNCTION_SQL, DROP_FUNCTION_SQL),
        migrations.RunPython(fold_roles, unfold_roles),
    ]
