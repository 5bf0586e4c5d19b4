"""Bulk ingestion writes 10,000 readings and as many audit rows at a time; what each row paid for and nothing used:

* the readings' own foreign key and index on `organization_id`: the composite key (organization_id, patient_id)
  to the patient proves the organization, and the unique key (organization, source, source_reading_id) starts
  with the column. The key was a deferred trigger per row at commit.
* the audit rows' database foreign key to the acting user (a deferred trigger per row, for a column that is
  NULL when a partner key acts) and their organization and patient indexes (a reading's history is read by id).

Reversed, audit rows naming a user deleted since (possible without the key) lose that id first, as the key's
SET NULL would have done, so the key can be added back.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import apps.organizations.context

FORGET_DELETED_USERS_SQL = """
UPDATE biomarkers_historicalbiomarkerlog h SET history_user_id = NULL
WHERE h.history_user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM auth_user u WHERE u.id = h.history_user_id)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("biomarkers", "0002_row_level_security"),
        ("organizations", "0002_row_level_security"),
        ("patients", "0004_row_level_security_consents_access_log"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="biomarkerlog",
            name="organization",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                default=apps.organizations.context.current_organization_id,
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="organizations.organization",
            ),
        ),
        migrations.AlterField(
            model_name="historicalbiomarkerlog",
            name="history_user",
            field=models.ForeignKey(
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        # Forwards nothing; backwards it runs before the operation above adds the user key back.
        migrations.RunSQL(migrations.RunSQL.noop, FORGET_DELETED_USERS_SQL),
        migrations.AlterField(
            model_name="historicalbiomarkerlog",
            name="organization",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                default=apps.organizations.context.current_organization_id,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="organizations.organization",
            ),
        ),
        migrations.AlterField(
            model_name="historicalbiomarkerlog",
            name="patient",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="patients.patient",
            ),
        ),
    ]
