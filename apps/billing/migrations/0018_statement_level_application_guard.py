"""The application guard checks a whole INSERT at once instead of each row.

Migration 0005's guard was a row trigger: for every application it locked the charge and the credit, checked
them and added the amount to both rows' `applied_cents`. An 835 of 5,000 claims posts 40,000 applications in
one transaction, and the guard alone cost 12 to 15 s of it (two locking reads and an UPDATE of two rows per
application, 80,000 row versions of the ledger for 30,000 entries).

Now:

* `billing_check_application()` stays a row trigger (BEFORE INSERT) for the one check that needs no read: the
  application names the caller's organization (`kura_current_org()`). It runs before the row's own RLS check,
  so a row of another organization is still refused as "unknown entry".
* `billing_check_applications()` is a statement trigger (AFTER INSERT, with the statement's rows as the
  transition table `new_applications`). It locks every entry the statement names, in id order (concurrent
  statements queue on the same rows in the same order, so they cannot deadlock each other), then, from the
  rows as they are once locked (READ COMMITTED: what the statements before committed): refuses an unknown or
  another organization's entry, entries of different patients or currencies, a failed payment as credit, the
  wrong kinds, and any entry whose applied total would pass its amount (over-application for a charge or a
  payment a refund returns, credit exhausted for the source); then adds each entry's new applications to its
  `applied_cents` in one UPDATE. An exception refuses the whole INSERT, as a row's refusal did.
* The messages and error codes are the row guard's, so callers map them as before.
"""

import importlib

from django.db import migrations

GUARD_SQL = """
CREATE OR REPLACE FUNCTION billing_check_application() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    -- The statement guard below reads the ledger as the owner: only the caller's organization may be named.
    IF NEW.organization_id IS DISTINCT FROM kura_current_org() THEN
        RAISE EXCEPTION 'ledger application: unknown entry' USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE FUNCTION billing_check_applications() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    problem text;
BEGIN
    -- Lock both sides of every new application, in id order, before reading them (of the caller's organization
    -- only: the row trigger has checked that every new application names it).
    PERFORM 1 FROM billing_ledgerentry
        WHERE organization_id = kura_current_org()
          AND id IN (SELECT target_id FROM new_applications UNION SELECT source_id FROM new_applications)
        ORDER BY id FOR UPDATE;
    SELECT checked.problem INTO problem
        FROM (SELECT CASE
                         WHEN t.id IS NULL OR s.id IS NULL THEN 'unknown entry'
                         WHEN s.patient_id <> t.patient_id THEN 'entries of different patients'
                         WHEN s.currency <> t.currency THEN 'currencies differ'
                         WHEN s.payment_status = 'failed' THEN 'a failed payment settles nothing'
                         WHEN NOT ((s.kind IN ('payment', 'insurance_payment', 'adjustment') AND t.kind = 'charge')
                                   OR (s.kind = 'refund' AND t.kind IN ('payment', 'insurance_payment')))
                             THEN 'wrong kinds'
                     END AS problem
              FROM new_applications a
              LEFT JOIN billing_ledgerentry t ON t.id = a.target_id AND t.organization_id = a.organization_id
              LEFT JOIN billing_ledgerentry s ON s.id = a.source_id AND s.organization_id = a.organization_id
             ) AS checked
        WHERE checked.problem IS NOT NULL
        LIMIT 1;
    IF problem = 'unknown entry' THEN
        RAISE EXCEPTION 'ledger application: unknown entry' USING ERRCODE = 'foreign_key_violation';
    ELSIF problem IS NOT NULL THEN
        RAISE EXCEPTION 'ledger application: %', problem USING ERRCODE = 'check_violation';
    END IF;
    -- applied_cents is everything already taken from an entry on either side (for a charge, what settled it; for
    -- a payment, what it paid plus its refunds); the new applications add to it.
    SELECT CASE WHEN d.as_target > 0 THEN 'over-application' ELSE 'credit exhausted' END
        INTO problem
        FROM (SELECT id, sum(as_target) AS as_target, sum(as_target + as_source) AS added
              FROM (SELECT target_id AS id, amount_cents AS as_target, 0 AS as_source FROM new_applications
                    UNION ALL
                    SELECT source_id, 0, amount_cents FROM new_applications) AS sides
              GROUP BY id) AS d
        JOIN billing_ledgerentry e ON e.id = d.id
        WHERE e.applied_cents + d.added > e.amount_cents
        ORDER BY d.as_target > 0 DESC
        LIMIT 1;
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'ledger application: %', problem USING ERRCODE = 'check_violation';
    END IF;
    UPDATE billing_ledgerentry e SET applied_cents = e.applied_cents + d.added
        FROM (SELECT id, sum(amount_cents) AS added
              FROM (SELECT target_id AS id, amount_cents FROM new_applications
                    UNION ALL
                    SELECT source_id, amount_cents FROM new_applications) AS sides
              GROUP BY id) AS d
        WHERE e.id = d.id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER billing_check_applications AFTER INSERT ON billing_ledgerapplication
    REFERENCING NEW TABLE AS new_applications
    FOR EACH STATEMENT EXECUTE FUNCTION billing_check_applications();
"""

DROP_GUARD_SQL = """
DROP TRIGGER billing_check_applications ON billing_ledgerapplication;
DROP FUNCTION billing_check_applications();
"""

# The row guard as migration 0005 made it (restored when this migration is reversed).
_ROW_GUARD = importlib.import_module("apps.billing.migrations.0005_applied_totals")
RESTORE_ROW_GUARD_SQL = _ROW_GUARD.GUARD_SQL.split("CREATE TRIGGER billing_check_application ", 1)[0].replace(
    "CREATE FUNCTION billing_check_application()", "CREATE OR REPLACE FUNCTION billing_check_application()", 1
)


class Migration(migrations.Migration):
    dependencies = [("billing", "0017_secondary_claims")]

    operations = [migrations.RunSQL(GUARD_SQL, DROP_GUARD_SQL + RESTORE_ROW_GUARD_SQL)]
