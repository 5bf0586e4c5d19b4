"""Django's admin log (`django_admin_log`) is one table for every organization, outside row-level security, and
would keep object names (possibly patients' names). Kura's audit trail is simple-history, so no admin page writes
it (`TenantModelAdmin.log_*`); here the database holds that too: the runtime role may only read the table."""

from typing import Any

from django.db import migrations

from apps.organizations.rls import ddl, runtime_role


def close(apps: Any, schema_editor: Any) -> None:
    schema_editor.execute(
        ddl("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON django_admin_log FROM {runtime}", runtime=runtime_role())
    )


def reopen(apps: Any, schema_editor: Any) -> None:
    schema_editor.execute(ddl("GRANT INSERT, UPDATE, DELETE ON django_admin_log TO {runtime}", runtime=runtime_role()))


class Migration(migrations.Migration):
    dependencies = [
        ("organizations", "0006_shared_counters"),
        ("admin", "0003_logentry_add_action_flag_choices"),
    ]

    operations = [migrations.RunPython(close, reopen)]
