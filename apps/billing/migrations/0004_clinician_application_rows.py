"""Clinicians see clinical charges only (issue part 7), and now the application rows that follow the same rule.

Migration 0002 hid non-clinical ledger entries from clinicians but left every application row (ids and
amounts) visible. A restrictive policy on applications and their history now shows a clinician only the rows
whose target entry is a clinical service (a credit and the charges it settles share one transaction type, and
a refund has its payment's type, so the target decides for the whole row).
"""

from django.db import migrations

from apps.organizations.rls import ddl

TABLES = ("billing_ledgerapplication", "billing_historicalledgerapplication")

CLINICIAN_APPLICATION_POLICY = """
CREATE POLICY clinician_clinical_only ON {table} AS RESTRICTIVE FOR ALL
USING (
    (SELECT kura_current_role()) IS DISTINCT FROM 'clinician'
    OR EXISTS (
        SELECT 1 FROM billing_ledgerentry e
        WHERE e.id = {table}.target_id AND e.transaction_type = 'clinical_service'
    )
)
WITH CHECK (
    (SELECT kura_current_role()) IS DISTINCT FROM 'clinician'
    OR EXISTS (
        SELECT 1 FROM billing_ledgerentry e
        WHERE e.id = {table}.target_id AND e.transaction_type = 'clinical_service'
    )
)
"""


def add_policies(apps, schema_editor):
    for table in TABLES:
        schema_editor.execute(ddl(CLINICIAN_APPLICATION_POLICY, table=table))


def drop_policies(apps, schema_editor):
    for table in TABLES:
        schema_editor.execute(ddl("DROP POLICY clinician_clinical_only ON {table}", table=table))


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_encounter_foreign_key")]

    operations = [migrations.RunPython(add_policies, drop_policies)]
