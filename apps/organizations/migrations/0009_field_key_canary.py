"""The field-encryption key canary: one row the runtime role may read and nothing else (key_canary.py)."""

from django.db import migrations, models


def grant(apps, schema_editor):
    from apps.organizations.rls import ddl, runtime_role

    runtime = runtime_role()
    table = "organizations_fieldkeycanary"
    schema_editor.execute(ddl("REVOKE ALL ON {table} FROM {runtime}", table=table, runtime=runtime))
    schema_editor.execute(ddl("GRANT SELECT ON {table} TO {runtime}", table=table, runtime=runtime))


class Migration(migrations.Migration):
    dependencies = [("organizations", "0008_partner_requires_patient_consent")]

    operations = [
        migrations.CreateModel(
            name="FieldKeyCanary",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("token", models.TextField()),
            ],
        ),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
