"""`runserver` (WhiteNoise's, which leaves static files to its middleware) that starts the embedded PostgreSQL
when it starts, never while it serves: a server the operator stopped stays stopped (requests fail meanwhile)."""

import os
from typing import Any

from django.conf import settings
from django.utils import autoreload
from whitenoise.runserver_nostatic.management.commands.runserver import Command as WhiteNoiseRunserver

from config import embedded_db


class Command(WhiteNoiseRunserver):
    def handle(self, *args: Any, **options: Any) -> None:
        # The autoreloader runs this command again in a child process at each code change: only the first
        # process (the one the operator started) may start the server.
        launched_by_operator = os.environ.get(autoreload.DJANGO_AUTORELOAD_ENV) != "true"
        if launched_by_operator and settings.DATABASES["default"].get("EMBEDDED"):
            embedded_db.ensure_running()
        embedded_db.never_start()
        super().handle(*args, **options)
