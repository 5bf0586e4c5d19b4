"""The end of an MRN is found through a btree of the reversed MRN, no longer through trigrams.

MRNs are mostly digits, and digit trigrams ("000", "001") are in almost every MRN: a `LIKE '%1003'` through
`patient_search_mrn_trgm_idx` read hundreds of index pages (5 to 15 ms on 50,000 patients) on every search,
names and phone numbers included, since staff type every kind of term into one box. An MRN ending with a term
is a reversed MRN beginning with the reversed term: a prefix `LIKE` on `(organization_id, reversed MRN)` in a
btree with `text_pattern_ops` reads a few entries (under 0.1 ms). The pattern's wildcards are escaped here, in
SQL, after reversing and normalizing the term (escaping first and reversing after would swap the escape
character and the wildcard). The function keeps its signature; the caller now passes the term as typed.
"""

from django.db import migrations

INDEX_SQL = """
CREATE INDEX patient_search_mrn_end_idx ON patients_patient
    (organization_id, reverse(kura_search_text(mrn)) text_pattern_ops);
DROP INDEX patient_search_mrn_trgm_idx;
"""

DROP_INDEX_SQL = """
CREATE INDEX patient_search_mrn_trgm_idx ON patients_patient USING gin (kura_search_text(mrn) gin_trgm_ops);
DROP INDEX patient_search_mrn_end_idx;
"""

# `words`, `phone_digits`: as in migration 0011. `mrn_end`: the term as typed; an MRN ending with it matches.
SEARCH_SQL = r"""
CREATE OR REPLACE FUNCTION kura_patient_search_ids(words text, mrn_end text, phone_digits text) RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public ROWS 20 AS
$$ SELECT p.id FROM public.patients_patient AS p
   WHERE p.organization_id = public.kura_current_org()
     AND public.kura_search_text(words) <% public.kura_patient_search_name(p.family_name, p.given_name, p.preferred_name)
   UNION
   SELECT p.id FROM public.patients_patient AS p
   WHERE p.organization_id = public.kura_current_org()
     AND reverse(public.kura_search_text(p.mrn))
         LIKE replace(replace(replace(reverse(public.kura_search_text(mrn_end)), '\', '\\'), '%', '\%'), '_', '\_') || '%'
   UNION
   SELECT p.id FROM public.patients_patient AS p
   WHERE p.organization_id = public.kura_current_org()
     AND public.kura_digits(p.phone) LIKE '%' || phone_digits || '%' $$;
"""

PREVIOUS_SEARCH_SQL = """
CREATE OR REPLACE FUNCTION kura_patient_search_ids(words text, mrn_end text, phone_digits text) RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public ROWS 20 AS
$$ SELECT p.id FROM public.patients_patient AS p
   WHERE p.organization_id = public.kura_current_org()
     AND public.kura_search_text(words) <% public.kura_patient_search_name(p.family_name, p.given_name, p.preferred_name)
   UNION
   SELECT p.id FROM public.patients_patient AS p
   WHERE p.organization_id = public.kura_current_org()
     AND public.kura_search_text(p.mrn) LIKE '%' || public.kura_search_text(mrn_end)
   UNION
   SELECT p.id FROM public.patients_patient AS p
   WHERE p.organization_id = public.kura_current_org()
     AND public.kura_digits(p.phone) LIKE '%' || phone_digits || '%' $$;
"""


def replace_search(apps, schema_editor):
    schema_editor.execute(SEARCH_SQL, params=None)  # no placeholders: its % are LIKE wildcards


def restore_search(apps, schema_editor):
    schema_editor.execute(PREVIOUS_SEARCH_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("patients", "0012_patient_reminder_opt_out_appointment_reads")]

    operations = [
        migrations.RunSQL(INDEX_SQL, DROP_INDEX_SQL),
        migrations.RunPython(replace_search, restore_search),
    ]
