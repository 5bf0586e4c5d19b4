"""Each ledger entry keeps the total applied to it (`applied_cents`), maintained by the application guard.

Balances and aging used to total every application of the organization on each report; the aging report of an
organization with 400,000 entries spent most of its time there. Now:

* `billing_ledgerentry.applied_cents` is filled from the existing applications, and a check constraint keeps it
  between 0 and the entry's amount.
* `billing_check_application()` (the guard on every application insert) checks over-application against the
  target's and the source's `applied_cents` (the rows it already locks) instead of summing their applications,
  then adds the application's amount to both. It runs as the owner (`SECURITY DEFINER`, with a fixed
  `search_path`), so the runtime role needs no UPDATE privilege on the column and has none; the guard reads
  only entries of the caller's organization, and the application row itself still passes the caller's
  row-level security (`WITH CHECK`) after the trigger, or the whole statement fails.
* `billing_protect_applied()` refuses a new entry that claims an applied total and any change to the column
  that does not come from inside a trigger (the owner's own mistakes included).
* `billing_application_changed()` keeps the totals right if the owner ever updates or deletes an application
  (the runtime role can do neither).
* The backfill runs with `row_security = off`: without BYPASSRLS it fails loudly instead of filling nothing.
* `ledgerentry_open_items`, a partial covering index of the entries with something still owed or unapplied:
  the balance and aging reports read it alone (index-only), so they take time in proportion to what is open.
* Applications get an index on (organization, created_at): a report for a past date adds back what was
  applied after that date.
"""

import importlib

from django.db import migrations, models

BACKFILL_SQL = """
SET LOCAL row_security = off;
UPDATE billing_ledgerentry e SET applied_cents = s.total
FROM (
    SELECT id, sum(amount_cents) AS total
    FROM (SELECT target_id AS id, amount_cents FROM billing_ledgerapplication
          UNION ALL
          SELECT source_id, amount_cents FROM billing_ledgerapplication) AS sides
    GROUP BY id
) AS s
WHERE e.id = s.id;
"""

GUARD_SQL = """
CREATE FUNCTION billing_check_application() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    tgt billing_ledgerentry%ROWTYPE;
    src billing_ledgerentry%ROWTYPE;
BEGIN
    -- As the owner, row-level security does not narrow these reads: only the caller's organization may be used.
    IF NEW.organization_id IS DISTINCT FROM kura_current_org() THEN
        RAISE EXCEPTION 'ledger application: unknown entry' USING ERRCODE = 'foreign_key_violation';
    END IF;
    -- Lock the target (the charge, or the payment a refund returns) so concurrent applications queue here.
    SELECT * INTO tgt FROM billing_ledgerentry
        WHERE id = NEW.target_id AND organization_id = NEW.organization_id FOR UPDATE;
    SELECT * INTO src FROM billing_ledgerentry
        WHERE id = NEW.source_id AND organization_id = NEW.organization_id FOR UPDATE;
    IF tgt.id IS NULL OR src.id IS NULL THEN
        RAISE EXCEPTION 'ledger application: unknown entry' USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF src.patient_id <> tgt.patient_id THEN
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
    -- applied_cents is everything already taken from an entry on either side (for a charge, what settled it; for
    -- a payment, what it paid plus its refunds), read from the rows locked above.
    IF tgt.applied_cents + NEW.amount_cents > tgt.amount_cents THEN
        RAISE EXCEPTION 'ledger application: over-application' USING ERRCODE = 'check_violation';
    END IF;
    IF src.applied_cents + NEW.amount_cents > src.amount_cents THEN
        RAISE EXCEPTION 'ledger application: credit exhausted' USING ERRCODE = 'check_violation';
    END IF;
    UPDATE billing_ledgerentry SET applied_cents = applied_cents + NEW.amount_cents WHERE id IN (tgt.id, src.id);
    RETURN NEW;
END;
$$;

CREATE TRIGGER billing_check_application BEFORE INSERT ON billing_ledgerapplication
    FOR EACH ROW EXECUTE FUNCTION billing_check_application();

CREATE FUNCTION billing_protect_applied() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Depth 1 is a statement of the caller's own; the triggers' UPDATEs run at depth 2.
    IF pg_trigger_depth() < 2 AND (TG_OP = 'UPDATE' OR NEW.applied_cents <> 0) THEN
        RAISE EXCEPTION 'ledger entry: applied_cents is kept by the application guard'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER billing_protect_applied BEFORE INSERT OR UPDATE OF applied_cents ON billing_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION billing_protect_applied();

-- Only the owner may UPDATE or DELETE applications (data repair): the totals follow.
CREATE FUNCTION billing_application_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE billing_ledgerentry SET applied_cents = applied_cents - OLD.amount_cents
        WHERE id IN (OLD.target_id, OLD.source_id);
    IF TG_OP = 'UPDATE' THEN
        UPDATE billing_ledgerentry SET applied_cents = applied_cents + NEW.amount_cents
            WHERE id IN (NEW.target_id, NEW.source_id);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER billing_application_changed AFTER UPDATE OR DELETE ON billing_ledgerapplication
    FOR EACH ROW EXECUTE FUNCTION billing_application_changed();
"""

DROP_GUARD_SQL = """
DROP TRIGGER billing_application_changed ON billing_ledgerapplication;
DROP FUNCTION billing_application_changed();
DROP TRIGGER billing_protect_applied ON billing_ledgerentry;
DROP FUNCTION billing_protect_applied();
DROP TRIGGER billing_check_application ON billing_ledgerapplication;
DROP FUNCTION billing_check_application();
"""

# The guard as migration 0002 created it (restored when this migration is reversed).
_INITIAL = importlib.import_module("apps.billing.migrations.0002_row_level_security")


class Migration(migrations.Migration):
    dependencies = [("billing", "0004_clinician_application_rows")]

    operations = [
        migrations.AddField(
            model_name="ledgerentry",
            name="applied_cents",
            field=models.BigIntegerField(db_default=0, default=0, editable=False),
        ),
        migrations.RunSQL(BACKFILL_SQL, migrations.RunSQL.noop),
        migrations.AddConstraint(
            model_name="ledgerentry",
            constraint=models.CheckConstraint(
                condition=models.Q(("applied_cents__gte", 0), ("applied_cents__lte", models.F("amount_cents"))),
                name="ledgerentry_applied_within_amount",
            ),
        ),
        migrations.AddIndex(
            model_name="ledgerentry",
            index=models.Index(
                condition=models.Q(("amount_cents__gt", models.F("applied_cents"))),
                fields=["organization", "created_at"],
                include=(
                    "kind",
                    "payment_status",
                    "transaction_type",
                    "currency",
                    "service_date",
                    "amount_cents",
                    "applied_cents",
                ),
                name="ledgerentry_open_items",
            ),
        ),
        migrations.AddIndex(
            model_name="ledgerapplication",
            index=models.Index(fields=["organization", "created_at"], name="billing_led_organiz_90b85d_idx"),
        ),
        migrations.RunSQL(
            _INITIAL.DROP_APPLICATION_GUARD_SQL + GUARD_SQL,
            DROP_GUARD_SQL + _INITIAL.APPLICATION_GUARD_SQL,
        ),
    ]
