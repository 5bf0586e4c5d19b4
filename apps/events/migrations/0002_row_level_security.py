from django.db import migrations

from apps.organizations.rls import AddCompositeForeignKey, EnableTenantRLS, MakeAppendOnly


class Migration(migrations.Migration):
    dependencies = [("events", "0001_initial")]

    operations = [
        # Events are classified like their subject: a coach or a key without PHI access never reads a PHI one.
        EnableTenantRLS("domainevent", classified=True, history=False),
        MakeAppendOnly("domainevent"),
        EnableTenantRLS("webhookendpoint"),
        EnableTenantRLS("webhookdelivery", history=False),
        EnableTenantRLS("webhookattempt", history=False),
        MakeAppendOnly("webhookattempt"),
        AddCompositeForeignKey(
            model_name="webhookdelivery",
            name="webhookdelivery_endpoint_same_org_fk",
            columns=["organization_id", "endpoint_id"],
            to_model="events.webhookendpoint",
            to_columns=["organization_id", "id"],
            on_delete="CASCADE",
        ),
        AddCompositeForeignKey(
            model_name="webhookattempt",
            name="webhookattempt_delivery_same_org_fk",
            columns=["organization_id", "delivery_id"],
            to_model="events.webhookdelivery",
            to_columns=["organization_id", "id"],
            on_delete="CASCADE",
        ),
    ]
