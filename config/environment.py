"""Reading settings from the environment: a missing or malformed variable stops the process with one line.

Every settings module reads the environment through `env` (a `KuraEnv`). A variable that is missing (and has no
default) or that does not parse as what the setting needs (a number, a PostgreSQL URL, Fernet keys, a rate) is
reported as `Kura configuration error: <VARIABLE> ...` on standard error and the process exits with status 2:
no traceback, and no half-started server (gunicorn loads the application in its master, before it binds or
forks, so the master exits too). The message names the variable, never its value: a value may be a secret.
"""

from __future__ import annotations

import binascii
import os
import sys
import threading
from typing import Any, NoReturn
from urllib.parse import urlsplit

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

CONFIGURATION_ERROR_EXIT_STATUS = 2
POSTGRESQL_SCHEMES = frozenset({"postgres", "postgresql", "pgsql"})
# The periods a rate (`600/min`) may name, in seconds: read here to check settings and by the rate limit to count.
RATE_PERIOD_SECONDS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
RATE_PERIOD_SECONDS |= {"d": 86400, "day": 86400}


def refuse_to_start(message: str) -> NoReturn:
    """One line on standard error, then exit: the one way a bad configuration stops Kura."""
    sys.stderr.write(f"Kura configuration error: {message}\n")
    sys.stderr.flush()
    if threading.current_thread() is not threading.main_thread():
        # runserver loads the application in a thread, where SystemExit would end that thread alone and leave
        # the process running without serving.
        os._exit(CONFIGURATION_ERROR_EXIT_STATUS)
    sys.exit(CONFIGURATION_ERROR_EXIT_STATUS)


class KuraEnv(environ.Env):
    def get_value(
        self, var: str, cast: Any = None, default: Any = environ.Env.NOTSET, parse_default: bool = False
    ) -> Any:
        try:
            return super().get_value(var, cast=cast, default=default, parse_default=parse_default)
        except ImproperlyConfigured:
            refuse_to_start(f"{var} is not set.")
        except (ValueError, TypeError):
            refuse_to_start(f"{var} is malformed: {_expected(cast)}.")

    def db_url(
        self, var: str = "DATABASE_URL", default: Any = environ.Env.NOTSET, engine: Any = None
    ) -> dict[str, Any]:
        """A PostgreSQL URL, `postgresql://user:password@host:port/database`."""
        url = str(self.get_value(var, default=default))
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
        except ValueError:
            refuse_to_start(f"{var} is malformed: expected postgresql://user:password@host:port/database.")
        if parts.scheme not in POSTGRESQL_SCHEMES or not parts.path.strip("/"):
            refuse_to_start(f"{var} is malformed: expected postgresql://user:password@host:port/database.")
        return self.db_url_config(url, engine=engine)

    def fernet_keys(self, var: str, default: Any = environ.Env.NOTSET) -> list[str]:
        """A comma-separated list of Fernet keys (newest first); at least one unless a default says otherwise."""
        keys: list[str] = self.list(var, default=default)
        if not keys and default is environ.Env.NOTSET:
            refuse_to_start(f"{var} is empty: list at least one Fernet key.")
        for key in keys:
            try:
                Fernet(key)
            except (ValueError, binascii.Error):
                refuse_to_start(f"{var} holds a value that is not a Fernet key (32 url-safe base64-encoded bytes).")
        return keys

    def rate(self, var: str, default: str) -> str:
        """A request rate, `<requests>/<s|min|hour|day>` (e.g. `600/min`)."""
        rate: str = self.str(var, default=default)
        count, _, period = rate.partition("/")
        if not count.strip().isdigit() or period.strip().lower() not in RATE_PERIOD_SECONDS:
            refuse_to_start(f"{var} is malformed: expected <requests>/<s|min|hour|day>, e.g. 600/min.")
        return rate


def _expected(cast: Any) -> str:
    if cast is int:
        return "expected a whole number"
    if cast is float:
        return "expected a number"
    if isinstance(cast, dict):
        return "expected key=value pairs separated by commas"
    return "it cannot be read"
