"""`manage.py export_837p --org <slug> --out FILE`: send the organization's ready claims as an 837P batch.

Unclaimed pending-insurance charges become claims first; the claims sent become submitted. `--test` is a
preview: the same file as test data (ISA15 T), and nothing changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from apps.billing import x12
from apps.organizations.context import tenant_context
from apps.organizations.roles import Role
from apps.patients import phi_reads


class Command(BaseCommand):
    help = "Send the organization's ready claims as an ANSI X12 837P (005010X222A1) file; --test previews it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--out", required=True, help="file to write")
        parser.add_argument(
            "--test", action="store_true", help="preview: write the file as test data (ISA15 T) and change nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # Which organization a slug names is a cross-tenant question: only the owner role may ask it.
        with connections["owner"].cursor() as cursor:
            cursor.execute("SELECT id FROM organizations_organization WHERE slug = %s", [options["org"]])
            row = cursor.fetchone()
        if row is None:
            raise CommandError("Unknown organization.")
        organization_id = row[0]
        preview = options["test"]
        with (
            tenant_context(organization_id, Role.BILLING),
            phi_reads.logged_reads(method="COMMAND", path="manage.py export_837p"),
        ):
            try:
                batch = x12.claim_batch_export(preview=preview)
            except ValidationError as error:
                raise CommandError(" ".join(error.messages)) from None
            if batch is None:
                self.stdout.write("No claims ready to send: nothing written.")
                return
            Path(options["out"]).write_bytes(batch.file_bytes())
            claim_count = batch.content.count("\nCLM*")
            if preview:
                self.stdout.write(f"Preview of {claim_count} claim(s) written as test data; nothing was submitted.")
            else:
                usage = "production" if batch.usage_indicator == "P" else "test"
                self.stdout.write(
                    f"Submitted {claim_count} claim(s) in {usage} interchange {batch.interchange_control_number:09d}."
                )
