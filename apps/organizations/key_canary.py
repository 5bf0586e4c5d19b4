"""Refusing field-encryption keys that cannot decrypt what is stored.

A wrong but well-formed key in `FIELD_ENCRYPTION_KEYS` would otherwise be accepted: new values would be stored
under it and could no longer be read once the right key is back. So one known value, the canary, is stored
encrypted (`FieldKeyCanary`): written by the owner role after `migrate` under the newest key, re-encrypted by
`rotate_field_keys` with everything else. Before a process serves anything it decrypts the canary as the
runtime role (`config/wsgi.py`), and `manage.py check --deploy` does the same (`check_field_keys`): keys that
cannot open it are refused.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections

from . import encryption
from .rls import RUNTIME_ALIAS, ddl

CANARY_PLAINTEXT = "Kura field-encryption key canary"
CANARY_TABLE = "organizations_fieldkeycanary"
_READ_CANARY = "SELECT token FROM organizations_fieldkeycanary WHERE id = 1"


def canary_ensure(*, using: str) -> None:
    """Write the canary under the newest key unless it exists (owner role). Values stored before the canary
    existed must open with the configured keys, or no canary is written and migrate fails with one message."""
    connection = connections[using]
    if not settings.FIELD_ENCRYPTION_KEYS:
        return
    with connection.cursor() as cursor:
        if CANARY_TABLE not in connection.introspection.table_names(cursor):
            return  # migrated back to before the canary existed
        cursor.execute(_READ_CANARY)
        if cursor.fetchone() is not None:
            return
        for table, pk_column, column in encryption.encrypted_columns():
            newest = ddl(
                "SELECT {col} FROM {table} WHERE {col} IS NOT NULL AND {col} <> '' ORDER BY {pk} DESC LIMIT 1",
                table=table,
                pk=pk_column,
                col=column,
            )
            cursor.execute(newest)
            row = cursor.fetchone()
            if row is not None:
                try:
                    encryption.decrypt(row[0])
                except encryption.UndecryptableValueError as error:
                    raise ImproperlyConfigured(
                        f"FIELD_ENCRYPTION_KEYS cannot decrypt the values stored in {table}.{column}: "
                        "put the right key back in the list."
                    ) from error
        cursor.execute(
            "INSERT INTO organizations_fieldkeycanary (id, token) VALUES (1, %s) ON CONFLICT (id) DO NOTHING",
            [encryption.encrypt(CANARY_PLAINTEXT)],
        )


def canary_ensure_after_migrate(sender: Any, using: str, **kwargs: Any) -> None:
    """post_migrate receiver: migrations run as the owner role, which may write the canary."""
    if using != RUNTIME_ALIAS:
        canary_ensure(using=using)


def canary_rotate(*, using: str) -> bool:
    """Re-encrypt the canary under the newest key (owner role); False when there is none."""
    with connections[using].cursor() as cursor:
        cursor.execute(_READ_CANARY)
        row = cursor.fetchone()
        if row is None:
            return False
        cursor.execute("UPDATE organizations_fieldkeycanary SET token = %s WHERE id = 1", [encryption.rotate(row[0])])
        return True


def field_keys_problem(*, using: str = RUNTIME_ALIAS) -> str | None:
    """Why the configured keys cannot be trusted with the stored data, or None when they open the canary."""
    try:
        with connections[using].cursor() as cursor:
            cursor.execute(_READ_CANARY)
            row = cursor.fetchone()
    except DatabaseError as error:
        return (
            f"FIELD_ENCRYPTION_KEYS cannot be checked: the database did not answer ({type(error).__name__}); "
            "check DATABASE_URL and run manage.py migrate."
        )
    if row is None:
        return "FIELD_ENCRYPTION_KEYS cannot be checked: no key canary is stored; run manage.py migrate."
    try:
        opened = encryption.decrypt(row[0])
    except encryption.UndecryptableValueError:
        opened = None
    except ImproperlyConfigured as error:
        return str(error)
    if opened != CANARY_PLAINTEXT:
        return (
            "FIELD_ENCRYPTION_KEYS cannot decrypt the values already stored (no listed key opens the key canary): "
            "put the right key back in the list."
        )
    return None


def key_fingerprint(key: str) -> str:
    """A short name for a Fernet key that does not reveal it (a salted SHA-256 of the key, 16 hex digits): a
    backup's manifest says which key its data needs, and a restore compares it with the configured keys."""
    return hashlib.sha256(b"kura-field-key-fingerprint:" + key.encode()).hexdigest()[:16]


def canary_key_fingerprint(*, using: str) -> str | None:
    """The fingerprint of the configured key that opens the stored canary (the key everything was rotated to),
    or None when there is no canary or no configured key opens it."""
    with connections[using].cursor() as cursor:
        cursor.execute(_READ_CANARY)
        row = cursor.fetchone()
    if row is None:
        return None
    for key in settings.FIELD_ENCRYPTION_KEYS:
        try:
            opened = Fernet(key).decrypt(row[0].encode())
        except (InvalidToken, ValueError):
            continue
        if opened == CANARY_PLAINTEXT.encode():
            return key_fingerprint(key)
    return None


def refuse_unusable_field_keys() -> None:
    """At start-up, before any request: stop the process with one line unless the keys open the canary.

    The connection is closed afterwards, so a server that loads the application before forking (gunicorn's
    preload) does not hand one connection to every worker.
    """
    from config.environment import refuse_to_start

    problem = field_keys_problem()
    connections[RUNTIME_ALIAS].close()
    if problem is not None:
        refuse_to_start(problem)


@checks.register(checks.Tags.security, deploy=True)
def check_field_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """`manage.py check --deploy`: the configured keys decrypt what is stored, checked as the runtime role."""
    problem = field_keys_problem()
    if problem is None:
        return []
    return [checks.Error(problem, id="organizations.E001")]
