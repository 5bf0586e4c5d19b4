"""Re-encrypt every encrypted identifier under the newest key in FIELD_ENCRYPTION_KEYS.

A cross-tenant maintenance job, so it runs on the owner connection (the runtime role sees one tenant, and
history tables are append-only for it). Run it after putting a new key first in FIELD_ENCRYPTION_KEYS; once it
reports zero tokens left under old keys, the old keys can be removed. The key canary (`key_canary`) is
re-encrypted too, so the process start-up check and `check --deploy` accept the new key alone.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections, transaction

from apps.organizations import encryption, key_canary
from apps.organizations.rls import ddl

BATCH = 1000


class Command(BaseCommand):
    help = "Re-encrypt all encrypted identifiers (history rows included) under the newest field-encryption key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default="owner", help="connection alias with owner rights (default owner)")

    def handle(self, *args: Any, **options: Any) -> None:
        alias = options["database"]
        total = 0
        try:
            with transaction.atomic(using=alias):
                for table, pk_column, column in encryption.encrypted_columns():
                    count = self._rotate_column(alias, table, pk_column, column)
                    self.stdout.write(f"{table}.{column}: {count} value(s) re-encrypted")
                    total += count
                if key_canary.canary_rotate(using=alias):
                    self.stdout.write("key canary re-encrypted")
        except encryption.UndecryptableValueError as error:
            raise CommandError(f"{error} Nothing was changed; put the missing old key back in the list.") from error
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {total} value(s) under the newest key."))

    def _rotate_column(self, alias: str, table: str, pk_column: str, column: str) -> int:
        names = {"table": table, "pk": pk_column, "col": column}
        select = ddl("SELECT {pk}, {col} FROM {table} WHERE {col} IS NOT NULL AND {col} <> '' ORDER BY {pk}", **names)
        update = ddl("UPDATE {table} SET {col} = %s WHERE {pk} = %s", **names)
        connection = connections[alias]
        count = 0
        with connection.cursor() as reader, connection.cursor() as writer:
            reader.execute(select)
            while rows := reader.fetchmany(BATCH):
                writer.executemany(update, [(encryption.rotate(token), pk) for pk, token in rows])
                count += len(rows)
        return count
