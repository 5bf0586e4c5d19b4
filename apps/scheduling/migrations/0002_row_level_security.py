"""Row-level security on every scheduling table and its history, the composite keys that keep every link inside
one organization, and the coach rule: a coach reads only the appointments where they are the provider."""

from django.db import migrations

from apps.organizations.rls import AddCompositeForeignKey, EnableTenantRLS, ddl

TENANT_MODELS = (
    "provider",
    "location",
    "room",
    "weeklyavailability",
    "timeoff",
    "appointmenttype",
    "recurringseries",
    "appointment",
)

# (model, column, target model): each becomes (organization_id, column) -> target (organization_id, id).
SAME_ORG_LINKS = (
    ("provider", "membership_id", "organizations.membership"),
    ("room", "location_id", "location"),
    ("weeklyavailability", "provider_id", "provider"),
    ("weeklyavailability", "location_id", "location"),
    ("timeoff", "provider_id", "provider"),
    ("appointment", "patient_id", "patients.patient"),
    ("appointment", "provider_id", "provider"),
    ("appointment", "room_id", "room"),
    ("appointment", "appointment_type_id", "appointmenttype"),
    ("appointment", "series_id", "recurringseries"),
    ("appointmentreason", "appointment_id", "appointment"),
)
CASCADING = {("weeklyavailability", "provider_id"), ("timeoff", "provider_id"), ("appointmentreason", "appointment_id")}

# Restrictive: for a coach it narrows the tenant policy to their own sessions; other roles are not narrowed.
COACH_OWN_SESSIONS_SQL = """
CREATE POLICY coach_own_sessions ON {table} AS RESTRICTIVE FOR ALL
USING ((SELECT kura_current_role()) IS DISTINCT FROM 'coach' OR provider_id IN (
    SELECT p.id FROM scheduling_provider p JOIN organizations_membership m ON m.id = p.membership_id
    WHERE m.user_id = (SELECT kura_current_user_id())))
"""
COACH_TABLES = ("scheduling_appointment", "scheduling_historicalappointment")


def coach_policy(apps, schema_editor):
    for table in COACH_TABLES:
        schema_editor.execute(ddl(COACH_OWN_SESSIONS_SQL, table=table))


def drop_coach_policy(apps, schema_editor):
    for table in COACH_TABLES:
        schema_editor.execute(ddl("DROP POLICY coach_own_sessions ON {table}", table=table))


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0001_initial"),
        ("organizations", "0011_membership_org_id_key_scheduling_scopes"),
        ("patients", "0002_row_level_security"),
    ]

    operations = [
        *[EnableTenantRLS(model) for model in TENANT_MODELS],
        EnableTenantRLS("appointmentreason", classified=True),
        *[
            AddCompositeForeignKey(
                model_name=model,
                name=f"{model}_{column.removesuffix('_id')}_same_org_fk",
                columns=["organization_id", column],
                to_model=target,
                to_columns=["organization_id", "id"],
                on_delete="CASCADE" if (model, column) in CASCADING else "RESTRICT",
            )
            for model, column, target in SAME_ORG_LINKS
        ],
        migrations.RunPython(coach_policy, drop_coach_policy),
    ]
