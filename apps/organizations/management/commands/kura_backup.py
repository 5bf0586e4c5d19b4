"""Back up Kura's database into one file: the dump (as the owner role), the roles and a manifest; never keys."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.organizations.backups import BackupError, backup_create


class Command(BaseCommand):
    help = "Write a backup of Kura's database (pg_dump custom format, roles, manifest) to one tar file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            type=Path,
            help="the backup file, or a folder for kura-backup-<database>-<UTC time>.tar (default: here)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            path, manifest = backup_create(output=options["output"])
        except BackupError as error:
            raise CommandError(str(error)) from error
        migrations = sum(len(names) for names in manifest["migrations"].values())
        self.stdout.write(
            f"Backup of database {manifest['database']!r} written to {path} "
            f"(PostgreSQL {manifest['server_version']}, {migrations} migrations)."
        )
        if manifest["field_key_fingerprint"] is None:
            self.stderr.write(
                "Warning: no configured FIELD_ENCRYPTION_KEYS key opens the key canary, so the manifest cannot "
                "name the key this backup needs."
            )
        else:
            self.stdout.write(
                f"Its encrypted values need the field-encryption key with fingerprint "
                f"{manifest['field_key_fingerprint']}; the keys are not in the backup (keep them in a secret manager)."
            )
