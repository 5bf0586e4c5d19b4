"""The clinician rule on ledger entries and applications is decided once per statement, not once per row.

Migrations 0002 and 0004 wrote it as `(SELECT kura_current_role()) IS DISTINCT FROM 'clinician' OR ...`: the
role is read once, but the comparison with 'clinician' ran for every row the statement reads, 280,000 times
in an organization's aging report (most of its remaining RLS overhead, see bench/README.md). With the
comparison inside the sub-select, `(SELECT kura_current_role() IS DISTINCT FROM 'clinician') OR ...`, PostgreSQL
computes one boolean per statement and each row only reads it. The rule is the same.
"""

import importlib

from django.db import migrations

from apps.organizations.rls import ddl

_ENTRIES = importlib.import_module("apps.billing.migrations.0002_row_level_security")
_APPLICATIONS = importlib.import_module("apps.billing.migrations.0004_clinician_application_rows")

ENTRY_RULE = "(SELECT kura_current_role() IS DISTINCT FROM 'clinician') OR transaction_type = 'clinical_service'"
APPLICATION_RULE = (
    "(SELECT kura_current_role() IS DISTINCT FROM 'clinician') OR EXISTS (SELECT 1 FROM billing_ledgerentry e "
    "WHERE e.id = {table}.target_id AND e.transaction_type = 'clinical_service')"
)
POLICY = "CREATE POLICY clinician_clinical_only ON {{table}} AS RESTRICTIVE FOR ALL USING ({rule}) WITH CHECK ({rule})"
ENTRY_TABLES = ("billing_ledgerentry", "billing_historicalledgerentry")
APPLICATION_TABLES = _APPLICATIONS.TABLES
DROP = "DROP POLICY clinician_clinical_only ON {table}"


def checked_once(apps, schema_editor):
    for tables, rule in ((ENTRY_TABLES, ENTRY_RULE), (APPLICATION_TABLES, APPLICATION_RULE)):
        for table in tables:
            schema_editor.execute(ddl(DROP, table=table))
            schema_editor.execute(ddl(POLICY.format(rule=rule), table=table))


def checked_per_row(apps, schema_editor):
    for tables, policy in (
        (ENTRY_TABLES, _ENTRIES.CLINICIAN_POLICY),
        (APPLICATION_TABLES, _APPLICATIONS.CLINICIAN_APPLICATION_POLICY),
    ):
        for table in tables:
            schema_editor.execute(ddl(DROP, table=table))
            schema_editor.execute(ddl(policy, table=table))


class Migration(migrations.Migration):
    dependencies = [("billing", "0007_idempotency_records_move_to_organizations")]

    operations = [migrations.RunPython(checked_once, checked_per_row)]
