"""`migrate` as the owner role, with the runtime role's privileges granted by default.

Migrations always run on the `owner` database alias, so the owner role owns every table. Before migrating,
default privileges give the runtime role plain DML on whatever the owner creates next; migrations then take
away what a table must not allow (history tables are append-only, ledger amounts immutable, ...).
"""

from typing import Any

from django.core.management.base import CommandParser
from django.core.management.commands import migrate
from django.db import connections

from apps.organizations.rls import ddl, runtime_role


class Command(migrate.Command):
    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(database="owner")

    def handle(self, *args: Any, **options: Any) -> None:
        connection = connections[options["database"]]
        runtime = runtime_role()
        with connection.cursor() as cursor:
            cursor.execute(
                ddl(
                    "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
                    "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {runtime}",
                    runtime=runtime,
                )
            )
            cursor.execute(
                ddl(
                    "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {runtime}",
                    runtime=runtime,
                )
            )
        super().handle(*args, **options)
        with connection.cursor() as cursor:
            # The app reads which migrations ran; it never records or removes one.
            cursor.execute(
                ddl("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON django_migrations FROM {runtime}", runtime=runtime)
            )
