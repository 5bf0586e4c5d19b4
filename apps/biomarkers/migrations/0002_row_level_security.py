from django.db import migrations

from apps.organizations.rls import AddCompositeForeignKey, EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [("biomarkers", "0001_initial"), ("patients", "0002_row_level_security")]

    operations = [
        EnableTenantRLS("biomarkerlog", classified=True),
        AddCompositeForeignKey(
            model_name="biomarkerlog",
            name="biomarkerlog_patient_same_org_fk",
            columns=["organization_id", "patient_id"],
            to_model="patients.patient",
            to_columns=["organization_id", "id"],
            on_delete="CASCADE",
        ),
    ]
