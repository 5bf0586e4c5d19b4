"""Names are found by the beginnings of their words first, through a full-text index; the trigram match (a typo)
only when no name begins so.

A word of a name typed partly ("okaf", "ben hil") is the common case at the desk. Through the trigram index
every candidate is checked again with `word_similarity`, the name normalized again (unaccent) for each: for
four letters of a common family name (800 patients of 20,000 in the load data) that was 4 of the search's 5 ms.
A GIN index of the name's words (`to_tsvector('simple', ...)`, no stemming, no stop words, over the same
normalized text) answers "every word typed begins a word of the name" from its posting lists, without reading
the names again: about 1 ms for the same 800 (bench/README.md, "The search on a quiet host").

What a name finds changes: when some names of the organization begin with what was typed, those are the
answer, and names that are only close ("Smith, Ava" for "Smith, Ada") no longer join them; when none does
(a typo: "Okafr Mateo"), the trigram match answers as before. `kura_search_prefix_query` builds the query from
the typed text's own lexemes, each quoted for the tsquery syntax (a backslash or an apostrophe is a character,
never an operator): nothing typed can become a query operator.

`kura_patient_search_ids` keeps its signature and its ROWS estimate; the trigram index stays for the fallback.
"""

from django.db import migrations

FUNCTIONS_SQL = r"""
CREATE FUNCTION kura_patient_search_words(family_name text, given_name text, preferred_name text) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT pg_catalog.to_tsvector('pg_catalog.simple'::regconfig,
                                 public.kura_patient_search_name(family_name, given_name, preferred_name)) $$;

CREATE FUNCTION kura_search_prefix_query(words text) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT pg_catalog.string_agg(
              '''' || replace(replace(w.lexeme, '\', '\\'), '''', '''''') || ''':*', ' & ')::tsquery
   FROM pg_catalog.unnest(pg_catalog.to_tsvector('pg_catalog.simple'::regconfig, public.kura_search_text(words))) AS w $$;
"""

DROP_FUNCTIONS_SQL = """
DROP FUNCTION kura_search_prefix_query(text);
DROP FUNCTION kura_patient_search_words(text, text, text);
"""

# Not partial, like the trigram index: the admin searches soft-deleted patients too.
INDEX_SQL = """
CREATE INDEX patient_search_name_words_idx ON patients_patient
    USING gin (kura_patient_search_words(family_name, given_name, preferred_name));
"""

DROP_INDEX_SQL = "DROP INDEX patient_search_name_words_idx;"

# `words`, `mrn_end`, `phone_digits`: as in migration 0013. Now PL/pgSQL, one statement per kind of match, and
# only the kinds that can answer run: the names beginning with the words typed; when there are none, the names
# close to what was typed (the trigram match); the MRNs ending with the term; the phone numbers with its digits.
# PostgreSQL plans each statement on its own and keeps a generic plan where it is as good (the name statements),
# instead of planning the four-branch UNION again on every call (0.6 to 0.8 ms of a 1.3 to 2 ms search). An id
# found by two kinds (a name and an MRN) may come twice: the callers read the patients with `id = ANY(...)`.
SEARCH_SQL = r"""
CREATE OR REPLACE FUNCTION kura_patient_search_ids(words text, mrn_end text, phone_digits text) RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public ROWS 20 AS
$$
DECLARE
    org uuid := public.kura_current_org();
    begins tsquery := public.kura_search_prefix_query(words);
BEGIN
    IF begins IS NOT NULL THEN
        RETURN QUERY SELECT p.id FROM public.patients_patient AS p
        WHERE p.organization_id = org
          AND public.kura_patient_search_words(p.family_name, p.given_name, p.preferred_name) @@ begins;
    END IF;
    IF NOT FOUND AND words IS NOT NULL THEN
        RETURN QUERY SELECT p.id FROM public.patients_patient AS p
        WHERE p.organization_id = org
          AND public.kura_search_text(words)
              <% public.kura_patient_search_name(p.family_name, p.given_name, p.preferred_name);
    END IF;
    RETURN QUERY SELECT p.id FROM public.patients_patient AS p
    WHERE p.organization_id = org
      AND reverse(public.kura_search_text(p.mrn))
          LIKE replace(replace(replace(reverse(public.kura_search_text(mrn_end)), '\', '\\'), '%', '\%'), '_', '\_') || '%';
    IF phone_digits IS NOT NULL THEN
        RETURN QUERY SELECT p.id FROM public.patients_patient AS p
        WHERE p.organization_id = org AND public.kura_digits(p.phone) LIKE '%' || phone_digits || '%';
    END IF;
END
$$;
"""

PREVIOUS_SEARCH_SQL = r"""
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


def replace_search(apps, schema_editor):
    schema_editor.execute(SEARCH_SQL, params=None)  # no placeholders: its % are LIKE wildcards


def restore_search(apps, schema_editor):
    schema_editor.execute(PREVIOUS_SEARCH_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("patients", "0013_patient_search_mrn_end_btree")]

    operations = [
        migrations.RunSQL(FUNCTIONS_SQL, DROP_FUNCTIONS_SQL),
        migrations.RunSQL(INDEX_SQL, DROP_INDEX_SQL),
        migrations.RunPython(replace_search, restore_search),
    ]
