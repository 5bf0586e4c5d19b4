"""Debian's PgBouncer on loopback in front of this test session's database, in transaction mode.

`kura.py test` installs the package. PgBouncer lends each transaction whichever server connection is free, and
with a pool of `pool_size` server connections, many clients share few of them: what one client leaves in a
session (a setting, a prepared statement, a cursor, a lock, a LISTEN) is there for the next. Clients log in as
the runtime role with a password (SCRAM, from a userlist file); PgBouncer reaches PostgreSQL on its socket.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from django.db import connections

from config import embedded_db

STARTUP_SECONDS = 20


@dataclass(frozen=True)
class Pooler:
    host: str
    port: int
    user: str
    password: str
    database: str

    @property
    def url(self) -> str:
        """The runtime role's DATABASE_URL through the pooler."""
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.database}"

    def connect(self) -> psycopg.Connection:
        """A client connection of its own through the pooler (no prepared statements, autocommit)."""
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=self.database,
            autocommit=True,
            prepare_threshold=None,
        )


def program() -> str:
    found = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(found).exists():
        raise RuntimeError("PgBouncer is not installed (apt-get install pgbouncer; `kura.py test` does it).")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def owner_url() -> str:
    """The owner role's DATABASE_OWNER_URL straight to the test database (its socket), never through a pooler."""
    server = embedded_db.ensure_running()
    name = connections["owner"].settings_dict["NAME"]
    return f"postgresql://{embedded_db.OWNER_ROLE}@/{name}?host={server.socket_dir}&port={server.port}"


@contextmanager
def running(*, pool_size: int) -> Iterator[Pooler]:
    """PgBouncer in transaction mode on a free loopback port, at most `pool_size` server connections to the test
    database; stopped (and its folder removed) afterwards."""
    server = embedded_db.ensure_running()
    database = str(connections["default"].settings_dict["NAME"])
    user = str(connections["default"].settings_dict["USER"])
    password = secrets.token_urlsafe(16)
    port = _free_port()
    folder = Path(tempfile.mkdtemp(prefix="kura-pgbouncer-"))
    (folder / "userlist.txt").write_text(f'"{user}" "{password}"\n')
    (folder / "pgbouncer.ini").write_text(
        "\n".join(
            [
                "[databases]",
                f"{database} = host={server.socket_dir} port={server.port} dbname={database}",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {port}",
                "unix_socket_dir =",
                "auth_type = scram-sha-256",
                f"auth_file = {folder / 'userlist.txt'}",
                "pool_mode = transaction",
                f"default_pool_size = {pool_size}",
                "min_pool_size = 0",
                "reserve_pool_size = 0",
                f"max_db_connections = {pool_size}",
                "max_client_conn = 200",
                f"logfile = {folder / 'pgbouncer.log'}",
                f"pidfile = {folder / 'pgbouncer.pid'}",
                "",
            ]
        )
    )
    command = [program(), str(folder / "pgbouncer.ini")]
    system_user = embedded_db.system_user()
    if system_user is not None:  # PgBouncer refuses to run as root
        shutil.chown(folder, system_user)
        for path in folder.iterdir():
            shutil.chown(path, system_user)
        command[1:1] = ["-u", system_user]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    pooler = Pooler(host="127.0.0.1", port=port, user=user, password=password, database=database)
    try:
        _wait_until_accepting(pooler, process, folder)
        yield pooler
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_until_accepting(pooler: Pooler, process: subprocess.Popen[bytes], folder: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (folder / "pgbouncer.log").read_text() if (folder / "pgbouncer.log").exists() else ""
            raise RuntimeError(f"PgBouncer exited with {process.returncode}:\n{log}")
        try:
            with pooler.connect() as connection:
                connection.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            time.sleep(0.1)
    raise RuntimeError(f"PgBouncer did not accept connections within {STARTUP_SECONDS}s.")


def backend_pid(connection: psycopg.Connection) -> int:
    row = connection.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return int(row[0])
