import django.db.models.deletion
from django.db import migrations, models

from apps.organizations.rls import EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [
        ("organizations", "0009_field_key_canary"),
        ("patients", "0009_phi_access_log_clinical_notes"),
    ]

    operations = [
        migrations.CreateModel(
            name="MRNCounter",
            fields=[
                (
                    "organization",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="organizations.organization",
                    ),
                ),
                ("last_number", models.PositiveBigIntegerField(default=0)),
            ],
            options={"verbose_name": "MRN counter"},
        ),
        EnableTenantRLS("mrncounter", history=False),
    ]
