from django.db import migrations

from apps.organizations.rls import AddCompositeForeignKey, EnableTenantRLS, ddl, runtime_role

APPEND_ONLY_TABLES = ["clinical_healthevent", "clinical_assessmentresponse"]


def revoke_rewrites(apps, schema_editor):
    """Health events and completed responses are append-only: the runtime role may insert and read only."""
    for table in APPEND_ONLY_TABLES:
        schema_editor.execute(
            ddl("REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {runtime}", table=table, runtime=runtime_role())
        )


def grant_rewrites(apps, schema_editor):
    for table in APPEND_ONLY_TABLES:
        schema_editor.execute(ddl("GRANT UPDATE, DELETE ON {table} TO {runtime}", table=table, runtime=runtime_role()))


class Migration(migrations.Migration):
    dependencies = [("clinical", "0005_timeline"), ("patients", "0002_row_level_security")]

    operations = [
        EnableTenantRLS("healthevent", classified=True),
        EnableTenantRLS("assessmentdefinition"),
        EnableTenantRLS("assessmentresponse", classified=True),
        EnableTenantRLS("assessmentflag", classified=True),
        AddCompositeForeignKey(
            model_name="healthevent",
            name="healthevent_patient_same_org_fk",
            columns=["organization_id", "patient_id"],
            to_model="patients.patient",
            to_columns=["organization_id", "id"],
            on_delete="CASCADE",
        ),
        AddCompositeForeignKey(
            model_name="healthevent",
            name="healthevent_supersedes_same_patient_fk",
            columns=["organization_id", "patient_id", "supersedes_id"],
            to_model="clinical.healthevent",
            to_columns=["organization_id", "patient_id", "id"],
            on_delete="CASCADE",
        ),
        AddCompositeForeignKey(
            model_name="assessmentresponse",
            name="assessmentresponse_patient_same_org_fk",
            columns=["organization_id", "patient_id"],
            to_model="patients.patient",
            to_columns=["organization_id", "id"],
            on_delete="CASCADE",
        ),
        AddCompositeForeignKey(
            model_name="assessmentresponse",
            name="assessmentresponse_event_same_patient_fk",
            columns=["organization_id", "patient_id", "health_event_id"],
            to_model="clinical.healthevent",
            to_columns=["organization_id", "patient_id", "id"],
            on_delete="CASCADE",
        ),
        AddCompositeForeignKey(
            model_name="assessmentresponse",
            name="assessmentresponse_definition_same_org_fk",
            columns=["organization_id", "definition_id"],
            to_model="clinical.assessmentdefinition",
            to_columns=["organization_id", "id"],
            on_delete="RESTRICT",
        ),
        AddCompositeForeignKey(
            model_name="assessmentflag",
            name="assessmentflag_patient_same_org_fk",
            columns=["organization_id", "patient_id"],
            to_model="patients.patient",
            to_columns=["organization_id", "id"],
            on_delete="CASCADE",
        ),
        AddCompositeForeignKey(
            model_name="assessmentflag",
            name="assessmentflag_response_same_org_fk",
            columns=["organization_id", "response_id"],
            to_model="clinical.assessmentresponse",
            to_columns=["organization_id", "id"],
            on_delete="CASCADE",
        ),
        migrations.RunPython(revoke_rewrites, grant_rewrites),
    ]
