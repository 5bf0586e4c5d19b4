"""Backup and restore (`manage.py kura_backup` / `kura_restore`, behind `kura.py backup` / `kura.py restore`).

One backup of the committed test database (two organizations, a patient with an encrypted SSN in each) is
restored into fresh empty databases on the same server; the restored database is then read as the runtime role,
as requests read it.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from psycopg import errors, sql

from apps.organizations import backups, encryption, key_canary
from apps.organizations.backups import Server
from apps.patients import services
from config import embedded_db
from tests.conftest import as_tenant, make_organization, truncate_all

ROOT = Path(__file__).resolve().parents[2]
SSN_A, SSN_B = "212-55-0101", "318-40-2290"


@dataclass(frozen=True)
class SourceData:
    path: Path
    org_a: uuid.UUID
    org_b: uuid.UUID
    runtime_grants: list[tuple[str, str]]
    tables: int


def runtime_grants(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """What the connected (runtime) role may do on each table, as the information schema shows it."""
    rows = conn.execute(
        "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
        "WHERE grantee = current_user ORDER BY 1, 2"
    )
    return [(str(table), str(privilege)) for table, privilege in rows]


def relation_count(conn: psycopg.Connection[Any]) -> int:
    """Tables, indexes, sequences and views outside PostgreSQL's own schemas."""
    (count,) = conn.execute(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%%' "
        "AND n.nspname NOT LIKE 'pg\\_temp%%'"
    ).fetchone()  # type: ignore[misc]
    return int(count)


@pytest.fixture(scope="module")
def source(django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> SourceData:
    """A backup of the test database holding two organizations' patients; the test database is emptied after."""
    path = tmp_path_factory.mktemp("backup") / "kura.tar"
    with django_db_blocker.unblock():
        org_a, org_b = make_organization("backup-a"), make_organization("backup-b")
        for org, mrn, ssn in ((org_a, "A-1", SSN_A), (org_b, "B-1", SSN_B)):
            with as_tenant(org):
                services.patient_create(
                    mrn=mrn, given_name="Ada", family_name="Quill", date_of_birth=date(1980, 2, 3), ssn=ssn
                )
        call_command("kura_backup", output=path, stdout=io.StringIO())
        with Server.of("default").connect() as conn:
            grants = runtime_grants(conn)
            tables = relation_count(conn)
        truncate_all()
    return SourceData(path=path, org_a=org_a.id, org_b=org_b.id, runtime_grants=grants, tables=tables)


@pytest.fixture
def empty_database(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    """A new, empty database on the same server, created by the owner role; dropped afterwards."""
    name = f"test_kura_restore_{uuid.uuid4().hex[:8]}"
    with django_db_blocker.unblock():
        owner = Server.of("owner", dbname="postgres")
        with owner.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield name
        finally:
            with owner.connect() as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def as_runtime(database: str) -> psycopg.Connection[Any]:
    conn = Server.of("default", dbname=database).connect()
    conn.autocommit = False
    return conn


def set_tenant(conn: psycopg.Connection[Any], organization_id: uuid.UUID) -> None:
    conn.execute(
        "SELECT set_config('app.current_org', %s, true), set_config('app.user_role', 'owner', true)",
        [str(organization_id)],
    )


def restore(path: Path, database: str) -> str:
    call_command("kura_restore", str(path), database_name=database, stdout=io.StringIO())
    return database


def test_a_restored_database_keeps_isolation_grants_and_encrypted_values(source, empty_database):
    restore(source.path, empty_database)

    with as_runtime(empty_database) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (embedded_db.RUNTIME_ROLE,)
        # Forced row-level security: no context, no rows; org A's context shows org A's patient only.
        assert conn.execute("SELECT count(*) FROM patients_patient").fetchone() == (0,)
        set_tenant(conn, source.org_a)
        rows = conn.execute("SELECT organization_id, mrn, ssn FROM patients_patient").fetchall()
        assert [(org, mrn) for org, mrn, _ in rows] == [(source.org_a, "A-1")]
        token = rows[0][2]
        assert SSN_A not in token
        assert encryption.decrypt(token) == SSN_A
        assert conn.execute("SELECT count(*) FROM patients_patient WHERE mrn = 'B-1'").fetchone() == (0,)
        conn.rollback()
        # The grants are the source database's, so the ledger is still append-only for the runtime role.
        assert runtime_grants(conn) == source.runtime_grants
        assert ("billing_ledgerentry", "UPDATE") not in source.runtime_grants
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("UPDATE billing_ledgerentry SET amount_cents = 0")
        conn.rollback()
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("DELETE FROM billing_ledgerentry")
        conn.rollback()
        # Org B's rows are all there, under org B's context.
        set_tenant(conn, source.org_b)
        ((mrn, token_b),) = conn.execute("SELECT mrn, ssn FROM patients_patient").fetchall()
        assert (mrn, encryption.decrypt(token_b)) == ("B-1", SSN_B)

    # A second restore into the now populated database is refused and changes nothing.
    with Server.of("owner", dbname=empty_database).connect() as conn:
        before = (relation_count(conn), conn.execute("SELECT count(*), max(mrn) FROM patients_patient").fetchone())
    with pytest.raises(CommandError, match=rf"^Database '{empty_database}' is not empty \(\d+ tables, indexes or"):
        restore(source.path, empty_database)
    with Server.of("owner", dbname=empty_database).connect() as conn:
        after = (relation_count(conn), conn.execute("SELECT count(*), max(mrn) FROM patients_patient").fetchone())
    assert after == before == (source.tables, (2, "B-1"))


def test_restore_into_a_database_with_kura_tables_is_refused_and_changes_nothing(source):
    test_database = connections["owner"].settings_dict["NAME"]
    with Server.of("owner").connect() as conn:
        before = relation_count(conn), conn.execute("SELECT count(*) FROM patients_patient").fetchone()
    with pytest.raises(CommandError) as refused:
        call_command("kura_restore", str(source.path))
    assert str(refused.value) == (
        f"Database '{test_database}' is not empty ({source.tables} tables, indexes or "
        "sequences): restore only into an empty database. Nothing was changed."
    )
    with Server.of("owner").connect() as conn:
        after = relation_count(conn), conn.execute("SELECT count(*) FROM patients_patient").fetchone()
    assert after == before == (source.tables, (0,))


def test_keys_that_do_not_match_the_backup_are_refused_before_anything_is_restored(source, empty_database, settings):
    right_key = settings.FIELD_ENCRYPTION_KEYS[0]
    wrong_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [wrong_key]
    with pytest.raises(CommandError) as refused:
        restore(source.path, empty_database)
    assert str(refused.value) == (
        "FIELD_ENCRYPTION_KEYS do not match the backup: its data needs the key with fingerprint "
        f"{key_canary.key_fingerprint(right_key)}, the configured keys have {key_canary.key_fingerprint(wrong_key)}. "
        "Nothing was changed."
    )
    with Server.of("owner", dbname=empty_database).connect() as conn:
        assert relation_count(conn) == 0
    # During a rotation both keys are listed: the backup's key is among them, and the restore goes through.
    settings.FIELD_ENCRYPTION_KEYS = [wrong_key, right_key]
    restore(source.path, empty_database)
    with Server.of("owner", dbname=empty_database).connect() as conn:
        assert relation_count(conn) == source.tables


@pytest.mark.parametrize(
    ("field", "extra", "message"),
    [
        ("forced_rls_tables", "patients_lost_table", "row-level security is not forced on patients_lost_table."),
        (
            "runtime_grants",
            "table billing_ledgerentry: UPDATE",
            "the runtime role's grants differ from the backup's (table billing_ledgerentry: UPDATE).",
        ),
    ],
)
def test_the_restored_database_is_checked_against_the_manifest(source, empty_database, tmp_path, field, extra, message):
    """A manifest that promises more than the dump holds (a table it says is forced, a grant it says exists):
    the verification after pg_restore notices."""
    manifest = json.loads(_member(source.path, "manifest.json"))
    manifest[field] = sorted([*manifest[field], extra])
    altered = make_archive(
        tmp_path / "altered.tar",
        {
            "manifest.json": json.dumps(manifest).encode(),
            "roles.sql": _member(source.path, "roles.sql"),
            "database.dump": _member(source.path, "database.dump"),
        },
    )
    with pytest.raises(CommandError) as refused:
        restore(altered, empty_database)
    assert str(refused.value) == f"Restored into '{empty_database}', but {message}"


def test_the_backup_holds_no_key_material_and_no_plaintext_identifiers(source, settings):
    archive = source.path.read_bytes()
    with tarfile.open(source.path) as tar:
        assert sorted(tar.getnames()) == ["database.dump", "manifest.json", "roles.sql"]
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        roles = tar.extractfile("roles.sql").read().decode()  # type: ignore[union-attr]
    # The dump decoded to SQL text, so a compressed copy of a key could not hide from the search.
    dump_sql = subprocess.run(
        [embedded_db.bin_dir() / "pg_restore", "--file=-"],
        input=_member(source.path, "database.dump"),
        capture_output=True,
        check=True,
    ).stdout
    assert b"CREATE TABLE public.patients_patient" in dump_sql
    for key in settings.FIELD_ENCRYPTION_KEYS:
        for secret in (key.encode(), base64.urlsafe_b64decode(key)):
            assert secret not in archive
            assert secret not in dump_sql
    for ssn in (SSN_A, SSN_B):
        assert ssn.encode() not in dump_sql
    statements = [line for line in roles.splitlines() if not line.startswith("--")]
    assert [line.split(" THEN ")[1].split(" NOSUPERUSER")[0] for line in statements] == [
        f'CREATE ROLE "{embedded_db.OWNER_ROLE}"',
        f'CREATE ROLE "{embedded_db.RUNTIME_ROLE}"',
    ]
    assert not any("PASSWORD" in line.upper() or "SCRAM-SHA-256$" in line for line in statements)
    assert manifest["field_key_fingerprint"] == key_canary.key_fingerprint(settings.FIELD_ENCRYPTION_KEYS[0])
    assert manifest["roles"] == {"owner": embedded_db.OWNER_ROLE, "runtime": embedded_db.RUNTIME_ROLE}
    assert manifest["database"] == connections["owner"].settings_dict["NAME"]
    assert "0009_field_key_canary" in manifest["migrations"]["organizations"]
    assert {"patients_patient", "billing_ledgerentry"} <= set(manifest["forced_rls_tables"])
    assert manifest["format"] == "kura-backup"
    assert manifest["format_version"] == 1
    assert manifest["created_at"].endswith("Z")
    assert manifest["server_version"].startswith("18.")


def _member(path: Path, name: str) -> bytes:
    with tarfile.open(path) as tar:
        return tar.extractfile(name).read()  # type: ignore[union-attr]


def test_roles_sql_creates_a_missing_role_with_its_attributes_and_no_password(django_db_setup, django_db_blocker):
    probe = f"kura_backup_probe_{uuid.uuid4().hex[:6]}"
    address = embedded_db.ensure_running()
    attributes = (
        "SELECT rolcanlogin, rolbypassrls, rolcreatedb, rolsuper, rolpassword FROM pg_authid WHERE rolname = %s"
    )
    with psycopg.connect(
        host=address.socket_dir, port=address.port, user="postgres", dbname="postgres", autocommit=True
    ) as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN BYPASSRLS NOCREATEDB PASSWORD 'probe-secret'").format(sql.Identifier(probe))
        )
        try:
            statements = backups.roles_sql(admin, [probe])
            admin.execute(statements.encode())  # the role exists: nothing happens
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(probe)))
            admin.execute(statements.encode())
            assert admin.execute(attributes, [probe]).fetchone() == (True, True, False, False, None)
        finally:
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(probe)))
    assert "probe-secret" not in statements
    assert "SCRAM" not in statements.upper()


def make_archive(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_bad_backup_files_are_refused_with_one_line(source, tmp_path):
    manifest = _member(source.path, "manifest.json")
    roles = _member(source.path, "roles.sql")
    dump = _member(source.path, "database.dump")
    text = tmp_path / "notes.tar"
    text.write_text("not a tar file\n")
    cases = {
        tmp_path / "missing.tar": f"{tmp_path / 'missing.tar'}: no such backup file.",
        text: f"{text} is not a Kura backup (not a readable tar file: ReadError).",
        make_archive(tmp_path / "other.tar", {"readme.txt": b"hello"}): (
            f"{tmp_path / 'other.tar'} is not a Kura backup (it has no manifest.json, roles.sql, database.dump)."
        ),
        make_archive(
            tmp_path / "corrupt.tar", {"manifest.json": b'{"format": "kura-', "roles.sql": roles, "database.dump": dump}
        ): f"{tmp_path / 'corrupt.tar'} is damaged: its manifest.json is not valid JSON.",
        make_archive(
            tmp_path / "truncated.tar",
            {"manifest.json": manifest, "roles.sql": roles, "database.dump": dump[: len(dump) // 2]},
        ): f"{tmp_path / 'truncated.tar'} is damaged: the database dump does not match the checksum in its manifest.",
    }
    for path, message in cases.items():
        with pytest.raises(CommandError) as refused:
            call_command("kura_restore", str(path))
        assert str(refused.value) == message


def test_the_command_line_says_one_line_and_exits_non_zero(tmp_path):
    missing = tmp_path / "missing.tar"
    result = subprocess.run(
        [sys.executable, "manage.py", "kura_restore", str(missing)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == f"CommandError: {missing}: no such backup file.\n"
    assert result.stdout == ""
