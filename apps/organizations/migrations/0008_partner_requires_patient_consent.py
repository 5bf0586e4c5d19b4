"""Partners reach only the patients with a valid data-sharing consent unless marked as not needing it (the
clinic's own services); the key lookup returns the mark with the key, so a request needs no extra query."""

from django.db import migrations, models

HELP_TEXT = (
    "Reaches only patients with a valid data-sharing consent. Turn off only for the clinic's own services "
    "(e.g. its billing service), which need no consent."
)

LOOKUP_SQL = """
DROP FUNCTION kura_api_key_lookup(text);
CREATE FUNCTION kura_api_key_lookup(p_prefix text)
RETURNS TABLE (id uuid, organization_id uuid, partner_id uuid, hashed_key varchar, scopes varchar[],
               phi_access boolean, revoked_at timestamptz, expires_at timestamptz, last_used_at timestamptz{column})
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS
$$ SELECT k.id, k.organization_id, k.partner_id, k.hashed_key, k.scopes, k.phi_access, k.revoked_at, k.expires_at,
          k.last_used_at{value}
   FROM public.organizations_apikey AS k{join} WHERE k.prefix = p_prefix $$;
REVOKE ALL ON FUNCTION kura_api_key_lookup(text) FROM PUBLIC;
"""


def lookup(*, with_consent: bool):
    def create(apps, schema_editor):
        from apps.organizations.rls import ddl, runtime_role

        schema_editor.execute(
            LOOKUP_SQL.format(
                column=", requires_patient_consent boolean" if with_consent else "",
                value=", p.requires_patient_consent" if with_consent else "",
                join=(
                    " JOIN public.organizations_partner AS p"
                    " ON p.organization_id = k.organization_id AND p.id = k.partner_id"
                    if with_consent
                    else ""
                ),
            )
        )
        schema_editor.execute(
            ddl("GRANT EXECUTE ON FUNCTION kura_api_key_lookup(text) TO {runtime}", runtime=runtime_role())
        )

    return create


class Migration(migrations.Migration):
    dependencies = [("organizations", "0007_no_global_admin_log")]

    operations = [
        migrations.AddField(
            model_name="historicalpartner",
            name="requires_patient_consent",
            field=models.BooleanField(default=True, help_text=HELP_TEXT),
        ),
        migrations.AddField(
            model_name="partner",
            name="requires_patient_consent",
            field=models.BooleanField(default=True, help_text=HELP_TEXT),
        ),
        migrations.RunPython(lookup(with_consent=True), lookup(with_consent=False)),
    ]
