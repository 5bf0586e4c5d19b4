"""Backup and restore of Kura's database: one file, restored only into an empty database, then verified.

A backup is an uncompressed tar (the dump inside is compressed already) holding:

* `database.dump`: `pg_dump --format=custom` of Kura's database, taken as the owner role (which owns every table
  and bypasses row-level security, so every organization's rows are in it), grants included;
* `roles.sql`: the owner and runtime roles with their attributes (never a password or its hash), as statements
  that create a role only when it is missing;
* `manifest.json`: what the restore checks against: the format version, when (UTC), the PostgreSQL server
  version, the database and role names, the applied migrations per app, the tables with forced row-level
  security, the runtime role's grants, the dump's SHA-256, and the fingerprint of the field-encryption key
  that opens the key canary (`key_canary.key_fingerprint`: it names the key without revealing it).

Never the keys themselves, never `.env`: values encrypted with `FIELD_ENCRYPTION_KEYS` stay ciphertext in the
dump, and the keys are kept (and backed up) in a secret manager. The PostgreSQL client programs are the ones
shipped with the embedded server (`embedded_db.bin_dir()`), which also serve an external server.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import psycopg
from django.conf import settings
from django.db import connections
from django.db.migrations.loader import MigrationLoader
from psycopg import sql
from psycopg.conninfo import make_conninfo

from config import embedded_db

from . import encryption, key_canary
from .rls import RUNTIME_ALIAS

OWNER_ALIAS = "owner"
FORMAT = "kura-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
ROLES_NAME = "roles.sql"
DUMP_NAME = "database.dump"
MEMBERS = (MANIFEST_NAME, ROLES_NAME, DUMP_NAME)
MANIFEST_KEYS = frozenset(
    {
        "format",
        "format_version",
        "created_at",
        "server_version",
        "database",
        "roles",
        "migrations",
        "forced_rls_tables",
        "runtime_grants",
        "field_key_fingerprint",
        "dump_sha256",
    }
)
# The connection settings the PostgreSQL client programs understand (the password goes through PGPASSWORD).
_LIBPQ_KEYWORDS = (
    "host",
    "port",
    "user",
    "dbname",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslpassword",
    "connect_timeout",
    "options",
    "target_session_attrs",
)
_ROLE_ATTRIBUTES = (
    ("rolinherit", "INHERIT", "NOINHERIT"),
    ("rolcreaterole", "CREATEROLE", "NOCREATEROLE"),
    ("rolcreatedb", "CREATEDB", "NOCREATEDB"),
    ("rolcanlogin", "LOGIN", "NOLOGIN"),
    ("rolreplication", "REPLICATION", "NOREPLICATION"),
    ("rolbypassrls", "BYPASSRLS", "NOBYPASSRLS"),
)
_FORCED_RLS_TABLES_SQL = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relrowsecurity AND c.relforcerowsecurity
ORDER BY 1
"""
# Every privilege granted to the runtime role on a table, a column or a function of the public schema.
_RUNTIME_GRANTS_SQL = """
WITH runtime AS (SELECT oid FROM pg_roles WHERE rolname = %(role)s)
SELECT 'table ' || c.relname || ': ' || acl.privilege_type
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) acl
WHERE n.nspname = 'public' AND acl.grantee = (SELECT oid FROM runtime)
UNION ALL
SELECT 'column ' || c.relname || '.' || a.attname || ': ' || acl.privilege_type
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace,
     aclexplode(a.attacl) acl
WHERE n.nspname = 'public' AND acl.grantee = (SELECT oid FROM runtime)
UNION ALL
SELECT 'function ' || p.oid::regprocedure::text || ': ' || acl.privilege_type
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, aclexplode(p.proacl) acl
WHERE n.nspname = 'public' AND acl.grantee = (SELECT oid FROM runtime)
ORDER BY 1
"""
_RELATION_COUNT_SQL = """
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%%'
  AND n.nspname NOT LIKE 'pg\\_temp%%'
"""
_CANARY_SQL = "SELECT token FROM organizations_fieldkeycanary WHERE id = 1"


class BackupError(Exception):
    """A backup or restore that cannot go on; the message is the one line the operator reads."""


@dataclass(frozen=True)
class Server:
    """Where a connection alias points, as libpq settings: for psycopg and for the PostgreSQL client programs."""

    params: dict[str, str]
    password: str | None

    @classmethod
    def of(cls, alias: str, *, dbname: str | None = None) -> Server:
        """The server of a Django connection alias (the embedded server is started if needed)."""
        raw = connections[alias].get_connection_params()
        params = {key: str(raw[key]) for key in _LIBPQ_KEYWORDS if raw.get(key) not in (None, "")}
        if dbname is not None:
            params["dbname"] = dbname
        password = raw.get("password")
        return cls(params=params, password=str(password) if password else None)

    @property
    def dbname(self) -> str:
        return self.params["dbname"]

    @property
    def user(self) -> str:
        return self.params["user"]

    def conninfo(self) -> str:
        return make_conninfo(**self.params)

    def connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self.conninfo(), password=self.password, autocommit=True)
        except psycopg.OperationalError as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise BackupError(f"Cannot connect to database {self.dbname!r} as {self.user!r}: {first_line}") from error

    def run(self, program: str, *args: str | Path) -> None:
        """Run a PostgreSQL client program against this server; its last error line becomes a BackupError."""
        env = {**os.environ, "PGCONNECT_TIMEOUT": os.environ.get("PGCONNECT_TIMEOUT", "10")}
        if self.password:
            env["PGPASSWORD"] = self.password
        command = [str(embedded_db.bin_dir() / program), "--no-password", f"--dbname={self.conninfo()}", *args]
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            lines = [line for line in result.stderr.splitlines() if line.strip()]
            raise BackupError(f"{program} failed: {lines[-1] if lines else f'exit status {result.returncode}'}")


# --- Backup -----------------------------------------------------------------------------------------------


def backup_create(*, output: Path | None = None) -> tuple[Path, dict[str, Any]]:
    """Write a backup of Kura's database (as the owner role) to `output`, a file or a folder (default: the
    current folder) for `kura-backup-<database>-<UTC time>.tar`; returns the path and the manifest.

    The file is written beside its final name and renamed into place, readable by its owner only (it holds
    every organization's data)."""
    owner = Server.of(OWNER_ALIAS)
    runtime_user = Server.of(RUNTIME_ALIAS).user
    created_at = datetime.now(UTC)
    output = (output or Path.cwd()).resolve()
    if output.is_dir():
        output = output / f"kura-backup-{owner.dbname}-{created_at:%Y%m%dT%H%M%SZ}.tar"
    if not output.parent.is_dir():
        raise BackupError(f"Cannot write the backup: the folder {output.parent} does not exist.")
    with owner.connect() as conn:
        if conn.execute("SELECT to_regclass('public.django_migrations')").fetchone() == (None,):
            raise BackupError(
                f"Database {owner.dbname!r} has no Kura tables (run manage.py migrate): nothing to back up."
            )
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": created_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "server_version": conn.execute("SHOW server_version").fetchone()[0],  # type: ignore[index]
            "database": owner.dbname,
            "roles": {"owner": owner.user, "runtime": runtime_user},
            "migrations": _applied_migrations(conn),
            "forced_rls_tables": _forced_rls_tables(conn),
            "runtime_grants": _runtime_grants(conn, runtime_user),
            "field_key_fingerprint": key_canary.canary_key_fingerprint(using=OWNER_ALIAS),
        }
        roles = roles_sql(conn, [owner.user, runtime_user])
    with tempfile.TemporaryDirectory(prefix="kura-backup-") as folder:
        dump = Path(folder) / DUMP_NAME
        owner.run("pg_dump", "--format=custom", f"--file={dump}")
        manifest["dump_sha256"] = _sha256(dump)
        partial = output.with_name(f".{output.name}.partial")
        try:
            with _private_file(partial) as handle, tarfile.open(fileobj=handle, mode="w") as archive:
                _add_bytes(archive, MANIFEST_NAME, json.dumps(manifest, indent=2, sort_keys=True).encode())
                _add_bytes(archive, ROLES_NAME, roles.encode())
                archive.add(dump, arcname=DUMP_NAME)
            partial.replace(output)
        finally:
            partial.unlink(missing_ok=True)
    return output, manifest


def roles_sql(conn: psycopg.Connection[Any], names: list[str]) -> str:
    """Statements creating each role (with its attributes, never a password) unless it exists."""
    statements = ["-- Kura's database roles. Passwords are not backed up: set them with ALTER ROLE ... PASSWORD."]
    for name in dict.fromkeys(names):
        row = conn.execute(
            "SELECT rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls, rolconnlimit "
            "FROM pg_roles WHERE rolname = %s",
            [name],
        ).fetchone()
        if row is None:
            raise BackupError(f"The database role {name!r} does not exist on the server.")
        flags = dict(zip([column for column, _, _ in _ROLE_ATTRIBUTES], row[:-1], strict=True))
        # Kura's roles are never superusers; a role restored from a backup is not made one either.
        attributes = ["NOSUPERUSER", *(yes if flags[column] else no for column, yes, no in _ROLE_ATTRIBUTES)]
        create = sql.SQL("CREATE ROLE {} {} CONNECTION LIMIT {}").format(
            sql.Identifier(name), sql.SQL(" ".join(attributes)), sql.Literal(row[-1])
        )
        statement = sql.SQL(
            "DO $kura$ BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {}) THEN {}; "
            "END IF; END $kura$;"
        ).format(sql.Literal(name), create)
        statements.append(statement.as_string(conn))
    return "\n".join(statements) + "\n"


# --- Restore ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backup:
    manifest: dict[str, Any]
    roles_sql: str


def backup_read(path: Path) -> Backup:
    """A backup's manifest and roles, checked: a missing file, another kind of file, a damaged manifest or dump
    raise BackupError naming what is wrong."""
    if not path.is_file():
        raise BackupError(f"{path}: no such backup file.")
    try:
        with tarfile.open(path, mode="r:") as archive:
            names = set(archive.getnames())
            missing = [name for name in MEMBERS if name not in names]
            if missing:
                raise BackupError(f"{path} is not a Kura backup (it has no {', '.join(missing)}).")
            manifest = _manifest(path, _read_member(archive, MANIFEST_NAME))
            roles = _read_member(archive, ROLES_NAME).decode("utf-8", "replace")
            digest = hashlib.sha256()
            with _open_member(archive, DUMP_NAME) as dump:
                for chunk in iter(lambda: dump.read(1 << 20), b""):
                    digest.update(chunk)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise BackupError(f"{path} is not a Kura backup (not a readable tar file: {type(error).__name__}).") from error
    if digest.hexdigest() != manifest["dump_sha256"]:
        raise BackupError(f"{path} is damaged: the database dump does not match the checksum in its manifest.")
    return Backup(manifest=manifest, roles_sql=roles)


def backup_restore(*, path: Path, database: str | None = None) -> dict[str, Any]:
    """Restore a backup into an empty database (the owner connection's, or `database` on the same server), then
    verify it; returns the manifest. Nothing is changed when a check before the restore fails; `pg_restore` runs
    in one transaction, so a failed restore leaves the database empty."""
    backup = backup_read(path)
    manifest = backup.manifest
    owner = Server.of(OWNER_ALIAS, dbname=database)
    runtime = Server.of(RUNTIME_ALIAS, dbname=owner.dbname)
    _check_compatible(manifest, owner_role=owner.user, runtime_role=runtime.user)
    with owner.connect() as conn:
        (relations,) = conn.execute(_RELATION_COUNT_SQL).fetchone()  # type: ignore[misc]
        if relations:
            raise BackupError(
                f"Database {owner.dbname!r} is not empty ({relations} tables, indexes or sequences): restore only "
                "into an empty database. Nothing was changed."
            )
        _create_missing_roles(conn, backup)
    with tempfile.TemporaryDirectory(prefix="kura-restore-") as folder:
        dump = Path(folder) / DUMP_NAME
        with (
            tarfile.open(path, mode="r:") as archive,
            _open_member(archive, DUMP_NAME) as source,
            _private_file(dump) as target,
        ):
            for chunk in iter(lambda: source.read(1 << 20), b""):
                target.write(chunk)
        try:
            owner.run("pg_restore", "--exit-on-error", "--single-transaction", dump)
        except BackupError as error:
            raise BackupError(f"{error} (nothing was restored)") from error
    _verify_restored(manifest, owner=owner, runtime=runtime)
    return manifest


def _check_compatible(manifest: dict[str, Any], *, owner_role: str, runtime_role: str) -> None:
    roles = manifest["roles"]
    if (roles.get("owner"), roles.get("runtime")) != (owner_role, runtime_role):
        raise BackupError(
            f"The backup's roles are {roles.get('owner')!r} (owner) and {roles.get('runtime')!r} (runtime); this "
            f"configuration uses {owner_role!r} and {runtime_role!r}: restore with the same role names."
        )
    known = code_migrations()
    unknown = sorted(
        f"{app}.{name}"
        for app, names in manifest["migrations"].items()
        for name in names
        if name not in known.get(app, set())
    )
    if unknown:
        raise BackupError(
            f"The backup was made by a newer Kura: {len(unknown)} of its migrations are unknown to this code "
            f"(first {unknown[0]}). Restore it with that version. Nothing was changed."
        )
    needed = manifest["field_key_fingerprint"]
    configured = [key_canary.key_fingerprint(key) for key in settings.FIELD_ENCRYPTION_KEYS]
    if needed is not None and needed not in configured:
        raise BackupError(
            f"FIELD_ENCRYPTION_KEYS do not match the backup: its data needs the key with fingerprint {needed}, the "
            f"configured keys have {', '.join(configured) or 'none'}. Nothing was changed."
        )


def _create_missing_roles(conn: psycopg.Connection[Any], backup: Backup) -> None:
    """Create the backup's roles that the server lacks: on the embedded server as its superuser; an external
    server's administrator creates them from the backup's roles.sql."""
    wanted = sorted(set(backup.manifest["roles"].values()))
    existing = {row[0] for row in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", [wanted])}
    missing = [name for name in wanted if name not in existing]
    if not missing:
        return
    if not settings.DATABASES[OWNER_ALIAS].get("EMBEDDED"):
        raise BackupError(
            f"The role(s) {', '.join(missing)} do not exist: create them as a superuser first "
            f"(`tar -xOf BACKUP {ROLES_NAME} | psql ...`), then restore again. Nothing was changed."
        )
    address = embedded_db.ensure_running()
    with psycopg.connect(
        host=address.socket_dir, port=address.port, user="postgres", dbname="postgres", autocommit=True
    ) as admin:
        admin.execute(backup.roles_sql.encode())


def _verify_restored(manifest: dict[str, Any], *, owner: Server, runtime: Server) -> None:
    """The restored database has the backup's migrations, forced row-level security and grants, and the
    configured keys open its key canary (read as the runtime role, as requests will)."""
    restored = f"Restored into {owner.dbname!r}, but"
    with owner.connect() as conn:
        if _applied_migrations(conn) != manifest["migrations"]:
            raise BackupError(f"{restored} its migrations differ from the backup's manifest.")
        missing_rls = sorted(set(manifest["forced_rls_tables"]) - set(_forced_rls_tables(conn)))
        if missing_rls:
            raise BackupError(f"{restored} row-level security is not forced on {', '.join(missing_rls)}.")
        grants = _runtime_grants(conn, runtime.user)
        if grants != manifest["runtime_grants"]:
            changed = sorted(set(grants) ^ set(manifest["runtime_grants"]))
            raise BackupError(f"{restored} the runtime role's grants differ from the backup's ({changed[0]}).")
    with runtime.connect() as conn:
        row = conn.execute(_CANARY_SQL).fetchone()
    try:
        opened = encryption.decrypt(row[0]) if row is not None else None
    except encryption.UndecryptableValueError:
        opened = None
    if opened != key_canary.CANARY_PLAINTEXT:
        raise BackupError(
            f"{restored} FIELD_ENCRYPTION_KEYS do not match the backup: no configured key opens its key canary."
        )


def pending_migrations(manifest: dict[str, Any]) -> list[str]:
    """The code's migrations the backup has not applied (`manage.py migrate` applies them after a restore)."""
    applied = {(app, name) for app, names in manifest["migrations"].items() for name in names}
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return sorted(f"{app}.{name}" for app, name in loader.graph.nodes if (app, name) not in applied)


def code_migrations() -> dict[str, set[str]]:
    """Every migration in the code, by app."""
    known: dict[str, set[str]] = {}
    for app, name in MigrationLoader(None, ignore_no_migrations=True).disk_migrations:
        known.setdefault(app, set()).add(name)
    return known


# --- Reading the database and the archive -----------------------------------------------------------------


def _applied_migrations(conn: psycopg.Connection[Any]) -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for app, name in conn.execute("SELECT app, name FROM django_migrations ORDER BY app, name"):
        applied.setdefault(app, []).append(name)
    return applied


def _forced_rls_tables(conn: psycopg.Connection[Any]) -> list[str]:
    return [row[0] for row in conn.execute(_FORCED_RLS_TABLES_SQL)]


def _runtime_grants(conn: psycopg.Connection[Any], role: str) -> list[str]:
    return [row[0] for row in conn.execute(_RUNTIME_GRANTS_SQL, {"role": role})]


def _manifest(path: Path, raw: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BackupError(f"{path} is damaged: its {MANIFEST_NAME} is not valid JSON.") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a Kura backup (its {MANIFEST_NAME} is not a Kura manifest).")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(
            f"{path} has backup format version {manifest.get('format_version')!r}; this Kura reads version "
            f"{FORMAT_VERSION}."
        )
    missing = sorted(MANIFEST_KEYS - manifest.keys())
    if missing:
        raise BackupError(f"{path} is damaged: its {MANIFEST_NAME} lacks {', '.join(missing)}.")
    if not isinstance(manifest["roles"], dict) or not isinstance(manifest["migrations"], dict):
        raise BackupError(f"{path} is damaged: its {MANIFEST_NAME} has malformed roles or migrations.")
    return manifest


def _read_member(archive: tarfile.TarFile, name: str) -> bytes:
    with _open_member(archive, name) as member:
        return member.read()


@contextlib.contextmanager
def _open_member(archive: tarfile.TarFile, name: str) -> Iterator[IO[bytes]]:
    member = archive.extractfile(name)
    if member is None:  # a directory or a link under that name
        raise tarfile.TarError(f"{name} is not a regular file")
    with member:
        yield member


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(datetime.now(UTC).timestamp())
    archive.addfile(info, io.BytesIO(data))


@contextlib.contextmanager
def _private_file(path: Path) -> Iterator[io.BufferedWriter]:
    """A new file only its owner may read (a backup holds every organization's data)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        yield handle


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
