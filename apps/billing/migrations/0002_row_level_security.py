"""Row-level security, role restriction, composite keys, immutable amounts and the application guard.

* Every billing table: tenant policy plus a restrictive role policy (owner, billing, front desk, clinician,
  partners); coaches see no billing row at all. Clinicians see only clinical_service ledger entries.
* Ledger entries and applications: the runtime role has no DELETE/TRUNCATE, and may UPDATE only the
  status-like columns of entries (payment_status, claim_id, updated_at) and nothing of applications.
* `billing_check_application()` refuses, in the database, an application that would over-apply a charge or a
  credit, mixes currencies or patients, or pairs the wrong kinds; it locks the target row first so that
  concurrent payments against one charge are serialised.
"""

from django.db import migrations

from apps.organizations.rls import AddCompositeForeignKey, EnableTenantRLS, ddl, runtime_role

LEDGER_TABLES = ("billing_ledgerentry", "billing_ledgerapplication")
# Keep in step with apps.billing.permissions.BILLING_DATABASE_ROLES (tests/organizations/test_permission_matrix.py).
BILLING_DB_ROLES = ("owner", "billing", "front_desk", "clinician", "partner", "partner_phi")
RLS_MODELS = (
    "payer",
    "insurancepolicy",
    "billingprovider",
    "installmentplan",
    "claimbatch",
    "claim",
    "ledgerentry",
    "ledgerapplication",
    "idempotencyrecord",
)

CLINICIAN_POLICY = (
    "CREATE POLICY clinician_clinical_only ON {table} AS RESTRICTIVE FOR ALL "
    "USING ((SELECT kura_current_role()) IS DISTINCT FROM 'clinician' OR transaction_type = 'clinical_service') "
    "WITH CHECK ((SELECT kura_current_role()) IS DISTINCT FROM 'clinician' OR transaction_type = 'clinical_service')"
)

APPLICATION_GUARD_SQL = """
CREATE FUNCTION billing_check_application() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    tgt billing_ledgerentry%ROWTYPE;
    src billing_ledgerentry%ROWTYPE;
    target_used bigint;
    source_used bigint;
BEGIN
    -- Lock the target (the charge, or the payment a refund returns) so concurrent applications queue here.
    SELECT * INTO tgt FROM billing_ledgerentry WHERE id = NEW.target_id FOR UPDATE;
    SELECT * INTO src FROM billing_ledgerentry WHERE id = NEW.source_id FOR UPDATE;
    IF tgt.id IS NULL OR src.id IS NULL THEN
        RAISE EXCEPTION 'ledger application: unknown entry' USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF src.organization_id <> tgt.organization_id OR NEW.organization_id <> tgt.organization_id
       OR src.patient_id <> tgt.patient_id THEN
        RAISE EXCEPTION 'ledger application: entries of different patients' USING ERRCODE = 'check_violation';
    END IF;
    IF src.currency <> tgt.currency THEN
        RAISE EXCEPTION 'ledger application: currencies differ' USING ERRCODE = 'check_violation';
    END IF;
    IF src.payment_status = 'failed' THEN
        RAISE EXCEPTION 'ledger application: a failed payment settles nothing' USING ERRCODE = 'check_violation';
    END IF;
    IF NOT ((src.kind IN ('payment', 'insurance_payment', 'adjustment') AND tgt.kind = 'charge')
            OR (src.kind = 'refund' AND tgt.kind IN ('payment', 'insurance_payment'))) THEN
        RAISE EXCEPTION 'ledger application: wrong kinds' USING ERRCODE = 'check_violation';
    END IF;
    -- Everything already taken from the target: applied to it, plus (for a payment) what it settled itself.
    SELECT coalesce(sum(amount_cents), 0) INTO target_used FROM billing_ledgerapplication
        WHERE target_id = tgt.id OR (source_id = tgt.id AND tgt.kind <> 'charge');
    IF target_used + NEW.amount_cents > tgt.amount_cents THEN
        RAISE EXCEPTION 'ledger application: over-application' USING ERRCODE = 'check_violation';
    END IF;
    SELECT coalesce(sum(amount_cents), 0) INTO source_used FROM billing_ledgerapplication
        WHERE source_id = src.id OR target_id = src.id;
    IF source_used + NEW.amount_cents > src.amount_cents THEN
        RAISE EXCEPTION 'ledger application: credit exhausted' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER billing_check_application BEFORE INSERT ON billing_ledgerapplication
    FOR EACH ROW EXECUTE FUNCTION billing_check_application();
"""

DROP_APPLICATION_GUARD_SQL = """
DROP TRIGGER billing_check_application ON billing_ledgerapplication;
DROP FUNCTION billing_check_application();
"""


def immutable_ledger(apps, schema_editor):
    runtime = runtime_role()
    for table in LEDGER_TABLES:
        schema_editor.execute(
            ddl("REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {runtime}", table=table, runtime=runtime)
        )
    schema_editor.execute(
        ddl(
            "GRANT UPDATE (payment_status, claim_id, updated_at) ON billing_ledgerentry TO {runtime}",
            runtime=runtime,
        )
    )
    for table in ("billing_ledgerentry", "billing_historicalledgerentry"):
        schema_editor.execute(ddl(CLINICIAN_POLICY, table=table))


def mutable_ledger(apps, schema_editor):
    runtime = runtime_role()
    for table in ("billing_ledgerentry", "billing_historicalledgerentry"):
        schema_editor.execute(ddl("DROP POLICY clinician_clinical_only ON {table}", table=table))
    for table in LEDGER_TABLES:
        schema_editor.execute(ddl("GRANT UPDATE, DELETE ON {table} TO {runtime}", table=table, runtime=runtime))


def patient_fk(model: str) -> AddCompositeForeignKey:
    return AddCompositeForeignKey(
        model_name=model,
        name=f"{model}_patient_same_org_fk",
        columns=["organization_id", "patient_id"],
        to_model="patients.patient",
        to_columns=["organization_id", "id"],
    )


def same_org_fk(model: str, column: str, to_model: str) -> AddCompositeForeignKey:
    return AddCompositeForeignKey(
        model_name=model,
        name=f"{model}_{column}_same_org_fk",
        columns=["organization_id", column],
        to_model=to_model,
        to_columns=["organization_id", "id"],
    )


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial"), ("patients", "0002_row_level_security")]

    operations = [
        *[EnableTenantRLS(model, roles=BILLING_DB_ROLES) for model in RLS_MODELS],
        patient_fk("insurancepolicy"),
        patient_fk("installmentplan"),
        patient_fk("claim"),
        patient_fk("ledgerentry"),
        same_org_fk("insurancepolicy", "payer_id", "payer"),
        same_org_fk("claim", "payer_id", "payer"),
        same_org_fk("claim", "policy_id", "insurancepolicy"),
        same_org_fk("ledgerentry", "insurance_policy_id", "insurancepolicy"),
        same_org_fk("ledgerentry", "installment_plan_id", "installmentplan"),
        same_org_fk("ledgerentry", "claim_id", "claim"),
        same_org_fk("ledgerapplication", "source_id", "ledgerentry"),
        same_org_fk("ledgerapplication", "target_id", "ledgerentry"),
        migrations.RunPython(immutable_ledger, mutable_ledger),
        migrations.RunSQL(APPLICATION_GUARD_SQL, DROP_APPLICATION_GUARD_SQL),
    ]
