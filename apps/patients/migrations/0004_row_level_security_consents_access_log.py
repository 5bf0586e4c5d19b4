from django.db import migrations

from apps.organizations.rls import AddCompositeForeignKey, EnableTenantRLS, MakeAppendOnly


class Migration(migrations.Migration):
    dependencies = [("patients", "0003_consents_identifiers_access_log")]

    operations = [
        EnableTenantRLS("consent"),
        AddCompositeForeignKey(
            model_name="consent",
            name="consent_patient_same_org_fk",
            columns=["organization_id", "patient_id"],
            to_model="patients.patient",
            to_columns=["organization_id", "id"],
            on_delete="CASCADE",
        ),
        # The access log is the audit itself: no history table, and append-only for the app.
        EnableTenantRLS("phiaccesslog", history=False),
        MakeAppendOnly("phiaccesslog"),
    ]
