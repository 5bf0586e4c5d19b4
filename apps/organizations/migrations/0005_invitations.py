"""Invitations: an owner invites a person by e-mail into the organization. The table is a tenant table under
forced row-level security; the person opening the link is resolved before any tenant is known through a narrow
SECURITY DEFINER function, as partner keys are (`kura_api_key_lookup`)."""

import uuid

import django.db.models.deletion
import django.utils.timezone
import simple_history.models
from django.conf import settings
from django.db import migrations, models

import apps.organizations.context
from apps.organizations.rls import EnableTenantRLS

# Runs as the owner role and returns at most the one invitation whose token hash matches (the hash of 256 random
# bits: it cannot be guessed or enumerated), with what its page shows; its search_path is pinned.
INVITATION_LOOKUP_SQL = """
CREATE FUNCTION kura_invitation_lookup(p_token_hash text)
RETURNS TABLE (id uuid, organization_id uuid, organization_name varchar, email varchar, role varchar,
               expires_at timestamptz, accepted_at timestamptz, revoked_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS
$$ SELECT i.id, i.organization_id, o.name, i.email, i.role, i.expires_at, i.accepted_at, i.revoked_at
   FROM public.organizations_invitation AS i JOIN public.organizations_organization AS o ON o.id = i.organization_id
   WHERE i.token_hash = p_token_hash $$;
REVOKE ALL ON FUNCTION kura_invitation_lookup(text) FROM PUBLIC;
"""


def grant_lookup(apps, schema_editor):
    from apps.organizations.rls import ddl, runtime_role

    schema_editor.execute(
        ddl("GRANT EXECUTE ON FUNCTION kura_invitation_lookup(text) TO {runtime}", runtime=runtime_role())
    )


class Migration(migrations.Migration):
    dependencies = [
        ("organizations", "0004_api_key_lookup_last_used"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="HistoricalInvitation",
            fields=[
                (
                    "history_api_key_id",
                    models.UUIDField(blank=True, default=apps.organizations.context.current_api_key_id, null=True),
                ),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ("updated_at", models.DateTimeField(blank=True, editable=False)),
                ("id", models.UUIDField(db_index=True, default=uuid.uuid4, editable=False)),
                ("email", models.EmailField(max_length=254)),
                (
                    "role",
                    models.CharField(
                        choices=[
                            ("owner", "Owner"),
                            ("clinician", "Clinician"),
                            ("coach", "Coach"),
                            ("billing", "Billing"),
                            ("front_desk", "Front desk"),
                        ],
                        max_length=20,
                    ),
                ),
                ("expires_at", models.DateTimeField(editable=False)),
                ("accepted_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("revoked_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1),
                ),
                (
                    "accepted_by",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        editable=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "invited_by",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        editable=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        default=apps.organizations.context.current_organization_id,
                        editable=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="organizations.organization",
                    ),
                ),
            ],
            options={
                "verbose_name": "historical invitation",
                "verbose_name_plural": "historical invitations",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="Invitation",
            fields=[
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ("email", models.EmailField(max_length=254)),
                (
                    "role",
                    models.CharField(
                        choices=[
                            ("owner", "Owner"),
                            ("clinician", "Clinician"),
                            ("coach", "Coach"),
                            ("billing", "Billing"),
                            ("front_desk", "Front desk"),
                        ],
                        max_length=20,
                    ),
                ),
                ("token_hash", models.CharField(editable=False, max_length=64, unique=True)),
                ("expires_at", models.DateTimeField(editable=False)),
                ("accepted_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("revoked_at", models.DateTimeField(blank=True, editable=False, null=True)),
                (
                    "accepted_by",
                    models.ForeignKey(
                        blank=True,
                        editable=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "invited_by",
                    models.ForeignKey(
                        editable=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
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
                    models.CheckConstraint(
                        condition=models.Q(("role__in", ["owner", "clinician", "coach", "billing", "front_desk"])),
                        name="invitation_role_valid",
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("accepted_at__isnull", True), ("revoked_at__isnull", True)),
                        fields=("organization", "email"),
                        name="invitation_one_open_per_email",
                    ),
                ],
            },
        ),
        EnableTenantRLS("invitation"),
        migrations.RunSQL(INVITATION_LOOKUP_SQL, "DROP FUNCTION kura_invitation_lookup(text);"),
        migrations.RunPython(grant_lookup, migrations.RunPython.noop),
    ]
