"""`manage.py generate_load_data`: the large benchmark dataset (see apps/loadgen/generator.py)."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.loadgen import generator


class Command(BaseCommand):
    help = (
        "Build the benchmark dataset with set-based SQL on the owner connection: by default 20 organizations, "
        "50,000 patients (one or two consents each), 1,000,000 ledger entries, 10,000,000 biomarker readings, "
        "1,000,000 health events, 200,000 encounters and 500,000 clinical events (one spoke row each), the first "
        "organization holding 40%."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--small", action="store_true", help="A CI-size dataset that builds in seconds.")
        parser.add_argument("--scale", type=float, default=1.0, help="Multiply every row count (not organizations).")
        parser.add_argument("--organizations", type=int)
        parser.add_argument("--patients", type=int)
        parser.add_argument("--ledger-entries", type=int)
        parser.add_argument("--readings", type=int)
        parser.add_argument("--health-events", type=int)
        parser.add_argument("--encounters", type=int)
        parser.add_argument(
            "--clinical-events", type=int, help="Hub events, each with one vital, condition or observation."
        )
        parser.add_argument("--replace", action="store_true", help="Delete existing load organizations first.")

    def handle(self, *args: Any, **options: Any) -> None:
        sizes = generator.Sizes.small() if options["small"] else generator.Sizes()
        if options["scale"] != 1.0:
            if options["scale"] <= 0:
                raise CommandError("--scale must be positive.")
            sizes = sizes.scaled(options["scale"])
        overrides = {
            name: options[name]
            for name in (
                "organizations",
                "patients",
                "ledger_entries",
                "readings",
                "health_events",
                "encounters",
                "clinical_events",
            )
            if options[name] is not None
        }
        if any(value < 0 for value in overrides.values()) or overrides.get("organizations", 1) < 1:
            raise CommandError("Counts must be positive.")
        sizes = generator.Sizes(**{**sizes.__dict__, **overrides})
        if sizes.patients < sizes.organizations:
            raise CommandError("Every organization needs at least one patient.")
        if options["replace"]:
            generator.delete_load_data(sys.stderr)
        elif generator.existing_organizations():
            raise CommandError("Load data already exists; pass --replace to delete it first.")
        report = generator.generate(sizes, stream=sys.stderr)
        self.stdout.write(json.dumps(generator.describe(report), indent=2))
        self.stdout.write(f"Generated in {report.total_seconds:.1f}s.")
