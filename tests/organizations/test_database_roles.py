"""The connection the app uses cannot bypass row-level security, and every tenant table enforces it."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, connections

TENANT_TABLES_SQL = """
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r'
  AND (EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'organization_id'
               AND NOT a.attisdropped)
       OR c.relname IN ('organizations_organization', 'organizations_historicalorganization'))
ORDER BY c.relname
"""


def test_runtime_role_is_not_superuser_has_no_bypassrls_and_owns_nothing(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls, rolcreaterole FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False, False, False)
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)"
        )
        assert cursor.fetchone() == (0,)
        cursor.execute("SELECT current_user = (SELECT usename FROM pg_user WHERE usesysid = 10)")
        assert cursor.fetchone() == (False,)


def test_every_tenant_table_and_history_table_has_rls_enabled_and_forced(db):
    with connection.cursor() as cursor:
        cursor.execute(TENANT_TABLES_SQL)
        tables = cursor.fetchall()
    names = {name for name, _, _ in tables}
    # The walk found the real tenant tables, history tables included.
    assert {
        "organizations_membership",
        "organizations_historicalmembership",
        "organizations_apikey",
        "patients_patient",
        "patients_historicalpatient",
        "clinical_clinicalevent",
        "clinical_historicalclinicalevent",
    } <= names
    unprotected = [name for name, enabled, forced in tables if not (enabled and forced)]
    assert unprotected == []


def test_every_rls_table_has_the_tenant_policy_and_classified_tables_the_phi_policy(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, array_agg(policyname::text ORDER BY policyname) FROM pg_policies "
            "WHERE schemaname = 'public' GROUP BY tablename"
        )
        policies = dict(cursor.fetchall())
        cursor.execute(TENANT_TABLES_SQL)
        tables = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT DISTINCT table_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND column_name = 'data_classification'"
        )
        classified = {row[0] for row in cursor.fetchall()}
    assert all("tenant_isolation" in policies.get(table, []) for table in tables)
    assert classified, "expected at least one classified table"
    assert all("phi_restriction" in policies[table] for table in classified)


def test_history_tables_are_append_only_for_the_runtime_role(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT has_table_privilege('patients_historicalpatient', 'UPDATE'), "
            "has_table_privilege('patients_historicalpatient', 'DELETE'), "
            "has_table_privilege('patients_historicalpatient', 'INSERT'), "
            "has_table_privilege('django_migrations', 'INSERT')"
        )
        assert cursor.fetchone() == (False, False, True, False)


@pytest.mark.django_db(databases=["default", "owner"])
def test_a_runtime_connection_whose_role_bypasses_rls_is_closed_and_refused():
    # The owner's credentials (BYPASSRLS) under the runtime alias: as a DATABASE_URL pointing at the wrong role.
    misconfigured = type(connections["default"])({**connections["owner"].settings_dict}, alias="default")
    with pytest.raises(ImproperlyConfigured, match="bypasses row-level security"):
        misconfigured.ensure_connection()
    assert misconfigured.connection is None
    # The same credentials under their own alias are the migrations' role, as intended.
    owner = type(connections["default"])({**connections["owner"].settings_dict}, alias="owner")
    try:
        owner.ensure_connection()
        assert owner.connection is not None
    finally:
        owner.close()
