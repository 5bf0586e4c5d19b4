"""Search that finds people: the extensions, the normalizing functions, the trigram indexes, and the narrow
function that reads them (apps/patients/selectors.py, `patient_search_condition`).

* `unaccent` is STABLE (its dictionary could change), so it cannot appear in an index; `kura_search_text`
  fixes the dictionary and is declared IMMUTABLE, the usual wrapper. The functions name their schema:
  PostgreSQL builds and maintains indexes with a search path of `pg_catalog` only.
* Row-level security keeps a query's own conditions from running before the policy's unless their operators
  are LEAKPROOF, and pg_trgm's (`LIKE`, `<%`) are not: as the runtime role no trigram index would ever be read
  (a sequential scan of the organization instead). `kura_patient_search_ids` is therefore a SECURITY DEFINER
  function of the owner role, like `kura_api_key_lookup`: it returns only ids, only of the organization in
  the caller's context (`kura_current_org()`, nothing without one), and the caller's query, under row-level
  security, reads the patients themselves by those ids.
* btree_gist is created here too, for the exclusion constraints of scheduling. Extensions are left in place
  when this migration is reversed: other migrations' objects may depend on them.
"""

from django.db import migrations

EXTENSIONS_SQL = """
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gist;
"""

FUNCTIONS_SQL = """
CREATE FUNCTION kura_search_text(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, value)) $$;

CREATE FUNCTION kura_patient_search_name(family_name text, given_name text, preferred_name text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT public.kura_search_text(family_name || ' ' || given_name || ' ' || preferred_name) $$;

CREATE FUNCTION kura_digits(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT regexp_replace(value, '[^0-9]', '', 'g') $$;
"""

DROP_FUNCTIONS_SQL = """
DROP FUNCTION kura_digits(text);
DROP FUNCTION kura_patient_search_name(text, text, text);
DROP FUNCTION kura_search_text(text);
"""

# GIN trigram indexes serve `<%` (word similarity) and LIKE '%...' alike. Not partial: the admin searches
# soft-deleted patients too.
INDEXES_SQL = """
CREATE INDEX patient_search_name_trgm_idx ON patients_patient
    USING gin (kura_patient_search_name(family_name, given_name, preferred_name) gin_trgm_ops);
CREATE INDEX patient_search_mrn_trgm_idx ON patients_patient USING gin (kura_search_text(mrn) gin_trgm_ops);
CREATE INDEX patient_search_phone_trgm_idx ON patients_patient USING gin (kura_digits(phone) gin_trgm_ops);
"""

DROP_INDEXES_SQL = """
DROP INDEX patient_search_phone_trgm_idx;
DROP INDEX patient_search_mrn_trgm_idx;
DROP INDEX patient_search_name_trgm_idx;
"""

# `words`: a name, its words in any order, close enough (pg_trgm word similarity: every word's trigrams found
# in the name, a typo or an unfinished word allowed). `mrn_end`: the end of an MRN, a LIKE pattern escaped by
# the caller. `phone_digits`: digits that appear in the phone number. NULL for a kind not searched. `ROWS 20`:
# a search finds a few people; with PostgreSQL's default guess (1,000) the caller's query hashed the ids and
# scanned the organization's patients instead of reading the few by primary key.
SEARCH_SQL = """
CREATE FUNCTION kura_patient_search_ids(words text, mrn_end text, phone_digits text) RETURNS SETOF uuid
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
REVOKE ALL ON FUNCTION kura_patient_search_ids(text, text, text) FROM PUBLIC;
"""


def create_search(apps, schema_editor):
    from apps.organizations.rls import ddl, runtime_role

    schema_editor.execute(SEARCH_SQL, params=None)  # no placeholders: its % are LIKE wildcards
    schema_editor.execute(
        ddl("GRANT EXECUTE ON FUNCTION kura_patient_search_ids(text, text, text) TO {runtime}", runtime=runtime_role())
    )


def drop_search(apps, schema_editor):
    schema_editor.execute("DROP FUNCTION kura_patient_search_ids(text, text, text)")


class Migration(migrations.Migration):
    dependencies = [("patients", "0010_mrn_counter")]

    operations = [
        migrations.RunSQL(EXTENSIONS_SQL, migrations.RunSQL.noop),
        migrations.RunSQL(FUNCTIONS_SQL, DROP_FUNCTIONS_SQL),
        migrations.RunSQL(INDEXES_SQL, DROP_INDEXES_SQL),
        migrations.RunPython(create_search, drop_search),
    ]
