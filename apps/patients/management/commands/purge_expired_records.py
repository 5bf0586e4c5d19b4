"""Hard-delete soft-deleted records whose retention period has passed. Dry run unless --apply."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from apps.organizations.idempotency import REPLAY_WINDOW
from apps.organizations.models import Organization
from apps.patients import retention


class Command(BaseCommand):
    help = (
        "Remove soft-deleted records past their retention period and idempotency records past their replay "
        "window (prints what it would remove unless --apply)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--apply", action="store_true", help="really delete (default: dry run)")
        parser.add_argument("--org", help="only this organization (slug)")
        parser.add_argument("--as-of", help="ISO date-time to measure retention from (default: now)")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        if options["as_of"]:
            try:
                now = datetime.fromisoformat(options["as_of"])
            except ValueError as error:
                raise CommandError("--as-of must be an ISO date or date-time, e.g. 2026-01-31") from error
            if timezone.is_naive(now):
                now = timezone.make_aware(now, UTC)
            if now > timezone.now():
                raise CommandError("--as-of must not be in the future: it would remove records still in use.")
        organization_id = None
        if options["org"]:
            organization = Organization.objects.using("owner").filter(slug=options["org"]).first()
            if organization is None:
                raise CommandError(f"No organization with slug {options['org']!r}.")
            organization_id = organization.pk
        for policy in retention.policies():
            self.stdout.write(f"Retention {policy.model_label}: {policy.days} days after deletion")
        hours = int(REPLAY_WINDOW.total_seconds() // 3600)
        self.stdout.write(f"Retention organizations.idempotencyrecord: {hours} hours after the request")
        report = retention.purge_expired(now=now, apply=options["apply"], organization_id=organization_id)
        verb = "Removed" if options["apply"] else "Would remove"
        if not report.removed:
            self.stdout.write("Nothing is past its retention period.")
        for label, count in sorted(report.removed.items()):
            self.stdout.write(f"{verb} {count} {label} record(s)")
        for label, pk, reason in report.kept:
            self.stdout.write(f"Kept {label} {pk}: {reason}")
        if not options["apply"] and report.removed:
            self.stdout.write("Dry run: nothing was deleted. Run again with --apply to delete.")
