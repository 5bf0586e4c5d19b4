"""Restore a Kura backup into an empty database, then check its migrations, row-level security, grants and keys."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.organizations.backups import BackupError, backup_restore, pending_migrations


class Command(BaseCommand):
    help = "Restore a backup made by kura_backup into an empty database and verify it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the backup file")
        parser.add_argument(
            "--database-name",
            help="restore into this database on the owner connection's server (default: the configured one)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            manifest = backup_restore(path=options["file"], database=options["database_name"])
        except BackupError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"Restored the backup of {manifest['created_at']} (database {manifest['database']!r}): migrations, "
            "row-level security and grants match it, and the configured keys open its key canary."
        )
        pending = pending_migrations(manifest)
        if pending:
            self.stdout.write(f"This code has {len(pending)} newer migrations: run manage.py migrate.")
