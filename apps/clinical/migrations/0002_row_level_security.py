from django.db import migrations

from apps.organizations.rls import AddCompositeForeignKey, EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [("clinical", "0001_initial"), ("patients", "0002_row_level_security")]

    operations = [
        EnableTenantRLS("clinicalevent", classified=True),
        AddCompositeForeignKey(
            model_name="clinicalevent",
            name="clinicalevent_patient_same_org_fk",
            columns=["organization_id", "patient_id"],
            to_model="patients.patient",
            to_columns=["organization_id", "id"],
            on_delete="CASCADE",
        ),
    ]
