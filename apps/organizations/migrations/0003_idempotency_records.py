"""Idempotency records for every POST that creates money or data (they were billing's alone), scoped to the
actor and classified: the tenant and PHI policies, and `own_actor`, which keeps each record (and the response
it stored) to the caller that made it, read from `app.actor`."""

import uuid

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

import apps.organizations.context
import apps.organizations.models
from apps.organizations.rls import EnableTenantRLS

ACTOR_SQL = """
CREATE FUNCTION kura_current_actor() RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT NULLIF(current_setting('app.actor', true), '') $$;

CREATE POLICY own_actor ON organizations_idempotencyrecord AS RESTRICTIVE FOR ALL
USING (actor = (SELECT kura_current_actor())) WITH CHECK (actor = (SELECT kura_current_actor()));
"""
DROP_ACTOR_SQL = """
DROP POLICY own_actor ON organizations_idempotencyrecord;
DROP FUNCTION kura_current_actor();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("organizations", "0002_row_level_security"),
    ]

    operations = [
        migrations.CreateModel(
            name="IdempotencyRecord",
            fields=[
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                (
                    "data_classification",
                    models.CharField(
                        choices=[("CLINICAL_PHI", "Clinical PHI"), ("GENERAL_WELLNESS", "General wellness")],
                        default="CLINICAL_PHI",
                        max_length=20,
                    ),
                ),
                (
                    "actor",
                    models.CharField(default=apps.organizations.models.current_actor, editable=False, max_length=60),
                ),
                ("key", models.CharField(max_length=255)),
                ("fingerprint", models.CharField(max_length=64)),
                ("response_status", models.PositiveSmallIntegerField(null=True)),
                ("response_body", models.JSONField(null=True)),
                (
                    "organization",
                    models.ForeignKey(
                        db_index=False,
                        default=apps.organizations.context.current_organization_id,
                        editable=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="organizations.organization",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("organization", "actor", "key"), name="idempotency_actor_key_unique"
                    )
                ],
            },
        ),
        EnableTenantRLS("idempotencyrecord", classified=True, history=False),
        migrations.RunSQL(ACTOR_SQL, DROP_ACTOR_SQL),
    ]
