"""Start, stop or report on the embedded PostgreSQL server (used when DATABASE_URL is unset)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config import embedded_db


class Command(BaseCommand):
    help = "Manage the embedded PostgreSQL server: start, stop or status (exit 1 when stopped)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["start", "stop", "status"])

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "start":
            address = embedded_db.ensure_running()
            self.stdout.write(f"Embedded PostgreSQL running (socket directory {address.socket_dir}).")
        elif action == "stop":
            stopped = embedded_db.stop()
            self.stdout.write("Embedded PostgreSQL stopped." if stopped else "Embedded PostgreSQL was not running.")
        elif embedded_db.is_running():
            self.stdout.write("Embedded PostgreSQL is running.")
        else:
            raise CommandError("Embedded PostgreSQL is not running.", returncode=1)
