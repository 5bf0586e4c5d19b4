"""Field-level encryption for sensitive identifiers (SSN, insurance member ids).

Values are Fernet tokens (AES-128-CBC + HMAC-SHA256) made with the newest key in
`settings.FIELD_ENCRYPTION_KEYS`; every listed key can still decrypt, so keys rotate by putting a new key first
and running `manage.py rotate_field_keys`, which re-encrypts every stored token (history rows included) under
it. A stored token that no listed key opens is read as `UNAVAILABLE` (and logged, without the value): a list
that holds it still answers; the process refuses to start with such keys in the first place (`key_canary`).
Tokens are randomised: the database, its backups and the history tables never hold the plaintext, and equal
values do not produce equal ciphertexts (so these columns are never filtered or sorted on).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import Expression

logger = logging.getLogger(__name__)

UNAVAILABLE = "unavailable"


class UndecryptableValueError(Exception):
    """A stored token that none of the configured keys opens (a key was removed before rotation)."""


class UnavailableValue(str):
    """What a model sees for a stored token no configured key opens: the text `unavailable`.

    It keeps the token, so saving the row writes the stored ciphertext back unchanged instead of encrypting the
    word "unavailable" over it; the value itself is never shown or logged.
    """

    token: str

    def __new__(cls, token: str) -> UnavailableValue:
        value = super().__new__(cls, UNAVAILABLE)
        value.token = token
        return value


def is_unavailable(value: object) -> bool:
    return isinstance(value, UnavailableValue)


@functools.cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: encrypted fields need at least one key.")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key.") from error


def fernet() -> MultiFernet:
    """The MultiFernet for the configured keys (newest first)."""
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        # The message names no value: the token is not secret, but it is no one's business either.
        raise UndecryptableValueError("An encrypted value cannot be decrypted with the configured keys.") from error


def rotate(token: str) -> str:
    """The token re-encrypted under the newest key."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken as error:
        raise UndecryptableValueError("An encrypted value cannot be decrypted with the configured keys.") from error


class EncryptedTextField(models.TextField):
    """A text field stored as a Fernet token; Python code sees the plaintext.

    Lookups other than `isnull` are meaningless on randomised ciphertext, so the field is never a filter key.
    """

    description = "Text encrypted at rest"

    def from_db_value(self, value: str | None, expression: Expression, connection: BaseDatabaseWrapper) -> str | None:
        if not value:
            return value
        try:
            return decrypt(value)
        except UndecryptableValueError as error:
            logger.error(
                "%s: a stored %s.%s cannot be decrypted with FIELD_ENCRYPTION_KEYS; shown as unavailable.",
                type(error).__name__,
                self.model._meta.label,
                self.name,
            )
            return UnavailableValue(value)

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, UnavailableValue):
            return value.token
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))


def encrypted_columns() -> list[tuple[str, str, str]]:
    """(table, primary-key column, encrypted column) for every model field of this type, history tables included."""
    from django.apps import apps

    found = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedTextField):
                found.append((model._meta.db_table, model._meta.pk.column, field.column))
    return sorted(found)
