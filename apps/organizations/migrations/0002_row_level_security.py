from django.db import migrations

from apps.organizations.rls import (
    CONTEXT_FUNCTIONS_SQL,
    DROP_CONTEXT_FUNCTIONS_SQL,
    AddCompositeForeignKey,
    EnableTenantRLS,
)

# Resolves a partner's key before any tenant is known, without exempting the table from RLS: it runs as the
# owner role, returns at most the one row whose random prefix matches, and pins its search_path.
API_KEY_LOOKUP_SQL = """
CREATE FUNCTION kura_api_key_lookup(p_prefix text)
RETURNS TABLE (id uuid, organization_id uuid, partner_id uuid, hashed_key varchar, scopes varchar[],
               phi_access boolean, revoked_at timestamptz, expires_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS
$$ SELECT k.id, k.organization_id, k.partner_id, k.hashed_key, k.scopes, k.phi_access, k.revoked_at, k.expires_at
   FROM public.organizations_apikey AS k WHERE k.prefix = p_prefix $$;
REVOKE ALL ON FUNCTION kura_api_key_lookup(text) FROM PUBLIC;
"""


# Before an organization is chosen, a signed-in user may read the organizations they are a member of
# (for the organization switcher); the sub-select itself goes through the own-memberships policy.
MEMBER_ORGANIZATIONS_POLICY_SQL = """
CREATE POLICY member_organizations ON organizations_organization AS PERMISSIVE FOR SELECT
USING (id IN (SELECT m.organization_id FROM organizations_membership AS m
              WHERE m.user_id = (SELECT kura_current_user_id()) AND m.is_active));
"""


def grant_lookup(apps, schema_editor):
    from apps.organizations.rls import ddl, runtime_role

    schema_editor.execute(
        ddl("GRANT EXECUTE ON FUNCTION kura_api_key_lookup(text) TO {runtime}", runtime=runtime_role())
    )


class Migration(migrations.Migration):
    dependencies = [("organizations", "0001_initial")]

    operations = [
        migrations.RunSQL(CONTEXT_FUNCTIONS_SQL, DROP_CONTEXT_FUNCTIONS_SQL),
        EnableTenantRLS("organization", org_column="id"),
        EnableTenantRLS("membership", member_column="user_id"),
        EnableTenantRLS("partner"),
        EnableTenantRLS("apikey"),
        AddCompositeForeignKey(
            model_name="apikey",
            name="apikey_partner_same_org_fk",
            columns=["organization_id", "partner_id"],
            to_model="partner",
            to_columns=["organization_id", "id"],
            on_delete="CASCADE",
        ),
        migrations.RunSQL(
            MEMBER_ORGANIZATIONS_POLICY_SQL, "DROP POLICY member_organizations ON organizations_organization;"
        ),
        migrations.RunSQL(API_KEY_LOOKUP_SQL, "DROP FUNCTION kura_api_key_lookup(text);"),
        migrations.RunPython(grant_lookup, migrations.RunPython.noop),
    ]
