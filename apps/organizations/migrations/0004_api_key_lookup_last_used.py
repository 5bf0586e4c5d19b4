"""The key lookup also returns when the key was last used, so a request records its use only when that is
older than the resolution, without sending an UPDATE that changes nothing on every partner request."""

from django.db import migrations

LOOKUP_SQL = """
DROP FUNCTION kura_api_key_lookup(text);
CREATE FUNCTION kura_api_key_lookup(p_prefix text)
RETURNS TABLE (id uuid, organization_id uuid, partner_id uuid, hashed_key varchar, scopes varchar[],
               phi_access boolean, revoked_at timestamptz, expires_at timestamptz{last_used_column})
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS
$$ SELECT k.id, k.organization_id, k.partner_id, k.hashed_key, k.scopes, k.phi_access, k.revoked_at, k.expires_at
          {last_used_value}
   FROM public.organizations_apikey AS k WHERE k.prefix = p_prefix $$;
REVOKE ALL ON FUNCTION kura_api_key_lookup(text) FROM PUBLIC;
"""


def lookup(*, with_last_used: bool):
    def create(apps, schema_editor):
        from apps.organizations.rls import ddl, runtime_role

        schema_editor.execute(
            LOOKUP_SQL.format(
                last_used_column=", last_used_at timestamptz" if with_last_used else "",
                last_used_value=", k.last_used_at" if with_last_used else "",
            )
        )
        schema_editor.execute(
            ddl("GRANT EXECUTE ON FUNCTION kura_api_key_lookup(text) TO {runtime}", runtime=runtime_role())
        )

    return create


class Migration(migrations.Migration):
    dependencies = [("organizations", "0003_idempotency_records")]

    operations = [migrations.RunPython(lookup(with_last_used=True), lookup(with_last_used=False))]
