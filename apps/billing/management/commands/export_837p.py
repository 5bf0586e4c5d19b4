"""`manage.py export_837p --org <slug> --out FILE`: the organization's unclaimed insurance charges as an 837P."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from apps.billing import x12
from apps.organizations.context import tenant_context
from apps.organizations.roles import Role
from apps.patients import phi_reads


class Command(BaseCommand):
    help = "Write an ANSI X12 837P (005010X222A1) file of the organization's pending-insurance clinical charges."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--out", required=True, help="file to write")
        parser.add_argument("--test", action="store_true", help="mark the interchange as test data (ISA15 = T)")

    def handle(self, *args: Any, **options: Any) -> None:
        # Which organization a slug names is a cross-tenant question: only the owner role may ask it.
        with connections["owner"].cursor() as cursor:
            cursor.execute("SELECT id FROM organizations_organization WHERE slug = %s", [options["org"]])
            row = cursor.fetchone()
        if row is None:
            raise CommandError("Unknown organization.")
        organization_id = row[0]
        with (
            tenant_context(organization_id, Role.BILLING),
            phi_reads.logged_reads(method="COMMAND", path="manage.py export_837p"),
        ):
            batch = x12.claim_batch_export(usage="T" if options["test"] else "P")
            if batch is None:
                self.stdout.write("No unclaimed pending-insurance charges: nothing written.")
                return
            Path(options["out"]).write_bytes(batch.file_bytes())
            self.stdout.write(
                f"Wrote {batch.claims.count()} claim(s), interchange {batch.interchange_control_number:09d}."
            )
