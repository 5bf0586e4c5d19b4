"""Counters every worker shares, in PostgreSQL: the per-caller rate-limit window and Django's cache table.

The runtime role may read and write both (no DELETE on the rate-limit table: a window is reset in place);
neither holds tenant data, so neither has row-level security.
"""

from django.db import migrations, models

CACHE_TABLE = "kura_cache"

# The table `manage.py createcachetable` would make for DatabaseCache, made here so it is a migration like
# everything else the runtime role relies on.
CREATE_CACHE_TABLE_SQL = """
CREATE TABLE kura_cache (
    cache_key varchar(255) NOT NULL PRIMARY KEY,
    value text NOT NULL,
    expires timestamptz NOT NULL
);
CREATE INDEX kura_cache_expires ON kura_cache (expires);
"""


def grant(apps, schema_editor):
    from apps.organizations.rls import ddl, runtime_role

    runtime = runtime_role()
    schema_editor.execute(
        ddl("REVOKE ALL ON {table} FROM {runtime}", table="organizations_ratelimitwindow", runtime=runtime)
    )
    schema_editor.execute(
        ddl(
            "GRANT SELECT, INSERT, UPDATE ON {table} TO {runtime}",
            table="organizations_ratelimitwindow",
            runtime=runtime,
        )
    )
    schema_editor.execute(
        ddl("GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {runtime}", table=CACHE_TABLE, runtime=runtime)
    )


class Migration(migrations.Migration):
    dependencies = [("organizations", "0005_invitations")]

    operations = [
        migrations.CreateModel(
            name="RateLimitWindow",
            fields=[
                ("key", models.CharField(max_length=100, primary_key=True, serialize=False)),
                ("window_started_at", models.DateTimeField()),
                ("hits", models.PositiveIntegerField()),
            ],
        ),
        migrations.RunSQL(CREATE_CACHE_TABLE_SQL, f"DROP TABLE {CACHE_TABLE}"),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
