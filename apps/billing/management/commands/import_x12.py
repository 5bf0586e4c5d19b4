"""`manage.py import_x12 --org <slug> FILE...`: import the clearinghouse's 999, 277CA and 835 answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from apps.billing import x12_answers
from apps.organizations.context import tenant_context
from apps.organizations.roles import Role


class Command(BaseCommand):
    help = "Import 999, 277CA and 835 files, validated with pyx12; a file or remittance is applied once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("files", nargs="+", help="X12 files to import")

    def handle(self, *args: Any, **options: Any) -> None:
        # Which organization a slug names is a cross-tenant question: only the owner role may ask it.
        with connections["owner"].cursor() as cursor:
            cursor.execute("SELECT id FROM organizations_organization WHERE slug = %s", [options["org"]])
            row = cursor.fetchone()
        if row is None:
            raise CommandError("Unknown organization.")
        refused: list[str] = []
        for name in options["files"]:
            path = Path(name)
            try:
                content = path.read_bytes()
            except OSError:
                refused.append(f"{path.name}: cannot be read.")
                continue
            # One tenant context (and transaction) per file: a refused file leaves the others imported.
            with tenant_context(row[0], Role.BILLING):
                try:
                    result = x12_answers.clearinghouse_file_import(content=content)
                except ValidationError as error:
                    refused.append(f"{path.name}: " + " ".join(error.messages))
                    continue
            if result.created:
                self.stdout.write(
                    f"{path.name}: imported {result.file} ({x12_answers.outcome_text(result.file.outcome)})."
                )
            else:
                self.stdout.write(f"{path.name}: imported before; nothing applied again.")
        if refused:
            raise CommandError("Refused:\n" + "\n".join(refused))
