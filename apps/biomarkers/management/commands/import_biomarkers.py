"""Import a file of a partner's native records (Oura, Apple HealthKit, Kintsugi, manual) for one patient.

    manage.py import_biomarkers --organization harbor --patient HAR-1001 --format oura_sleep sleep.json

The file is a JSON array, an object with a `data` array (as Oura's API answers), or JSON Lines; for
`--format apple_health_kit`, also Apple Health's `export.xml` itself: its `<Record>` elements of the types Kura
maps (the rest of an export, workouts or types without a metric, is left out and counted). The whole file is one
transaction: a bad record stores nothing and is named (`records[1234].average_hrv`). Records already imported
are skipped, so an interrupted or repeated import is safe to run again (export records carry no uuid: their id
is derived from what they say, see `adapters.healthkit_reading_id`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rest_framework.exceptions import ValidationError

from apps.organizations.context import tenant_context
from apps.organizations.models import Organization
from apps.organizations.roles import Role
from apps.patients.models import Patient

from ... import adapters, services

CHUNK = 1000
BAR_WIDTH = 30


def healthkit_export_records(path: Path) -> tuple[list[dict[str, str]], int]:
    """The `<Record>` attributes of an Apple Health `export.xml` that Kura maps, and how many others it left out.
    Read element by element (an export is often hundreds of megabytes); entity declarations are refused."""
    records: list[dict[str, str]] = []
    left_out = 0
    try:
        for _event, element in iterparse(str(path), events=("end",)):
            if element.tag == "Record":
                if adapters.healthkit_maps(element.attrib.get("type")):
                    records.append(dict(element.attrib))
                else:
                    left_out += 1
            if element.tag != "HealthData":
                element.clear()
    except ParseError as error:
        raise CommandError(f"{path.name}: not well-formed XML (line {error.position[0]}).") from None
    except DefusedXmlException:
        raise CommandError(f"{path.name}: entity declarations are not accepted in an export.") from None
    return records, left_out


def read_records(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as error:
            raise CommandError(f"{path.name}: neither JSON nor JSON Lines (line {error.lineno}).") from None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        return list(data["data"])
    if isinstance(data, list):
        return data
    raise CommandError(f"{path.name}: expected a JSON array, an object with a 'data' array, or JSON Lines.")


class Command(BaseCommand):
    help = "Import a partner's native biomarker records for one patient (all-or-nothing, idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--organization", required=True, help="organization slug")
        parser.add_argument("--patient", required=True, help="the patient's MRN")
        parser.add_argument("--format", required=True, choices=sorted(adapters.ADAPTERS))
        parser.add_argument("--no-progress", action="store_true", help="do not draw the progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        left_out = 0
        if options["file"].suffix.lower() == ".xml":
            if options["format"] != "apple_health_kit":
                raise CommandError("An XML file is an Apple Health export: use --format apple_health_kit.")
            records, left_out = healthkit_export_records(options["file"])
        else:
            records = read_records(options["file"])
        # Finding the organization by slug happens before any tenant is known: the owner connection may.
        organization = Organization.objects.using("owner").filter(slug=options["organization"]).first()
        if organization is None:
            raise CommandError("No such organization.")
        totals = {"created": 0, "duplicates": 0, "corrected": 0}
        with tenant_context(organization.id, Role.OWNER):
            patient = Patient.objects.active().filter(mrn=options["patient"]).first()
            if patient is None:
                raise CommandError("No such patient in this organization.")
            for first in range(0, len(records), CHUNK):
                try:
                    result = services.biomarker_records_import(
                        format_name=options["format"],
                        records=records[first : first + CHUNK],
                        patient_id=patient.pk,
                        first_index=first,
                    )
                except ValidationError as error:
                    self._progress(first, len(records), options["no_progress"], finish=True)
                    problems = "; ".join(
                        f"{name}: {' '.join(map(str, messages))}"
                        for name, messages in dict(error.detail).items()  # type: ignore[arg-type]
                    )
                    raise CommandError(f"Nothing imported. {problems}") from None
                totals["created"] += result.created
                totals["duplicates"] += result.duplicates
                totals["corrected"] += result.corrected
                self._progress(min(first + CHUNK, len(records)), len(records), options["no_progress"])
        self._progress(len(records), len(records), options["no_progress"], finish=True)
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(records)} record(s): {totals['created']} reading(s) stored, "
                f"{totals['duplicates']} already present, {totals['corrected']} corrected."
                + (f" {left_out} record(s) of types without a metric left out." if left_out else "")
            )
        )

    def _progress(self, count: int, total: int, hidden: bool, *, finish: bool = False) -> None:
        """A text progress bar on stderr, redrawn in place."""
        if hidden or total == 0:
            return
        filled = BAR_WIDTH * count // total
        self.stderr.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {count}/{total} records", ending="")
        if finish:
            self.stderr.write("")
