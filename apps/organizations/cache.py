"""Django's cache in PostgreSQL, shared by every worker and server (the web tier keeps no state of its own)."""

from __future__ import annotations

import base64
import pickle
from typing import Any

from django.core.cache.backends.db import DatabaseCache
from django.db import connections, router, transaction
from django.utils import timezone
from psycopg import sql


class SharedDatabaseCache(DatabaseCache):
    """`DatabaseCache` whose `incr`/`decr` are atomic across workers.

    Django's own `incr` reads the value and writes it back, so two workers counting at once lose a count; here
    the row is locked between the read and the write. `add` is already atomic (the key is the primary key).

    Writes go through the `default` connection: inside a request they belong to its transaction, which the
    tenant middleware rolls back on an error response, so a counter that must outlive a 4xx answer is written
    before that transaction begins.
    """

    def __init__(self, table: str, params: dict[str, Any]) -> None:
        super().__init__(table, params)
        self.table = table

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        cache_key = self.make_and_validate_key(key, version=version)
        db = router.db_for_write(self.cache_model_class)
        table = sql.Identifier(self.table)
        with transaction.atomic(using=db), connections[db].cursor() as cursor:
            cursor.execute(
                sql.SQL("SELECT value FROM {} WHERE cache_key = %s AND expires >= %s FOR UPDATE")
                .format(table)
                .as_string(None),
                [cache_key, timezone.now()],
            )
            row = cursor.fetchone()
            if row is None:
                raise ValueError(f"Key '{key}' not found")
            value = pickle.loads(base64.b64decode(row[0].encode())) + delta  # noqa: S301 - our own rows
            pickled = base64.b64encode(pickle.dumps(value, self.pickle_protocol)).decode("latin1")
            cursor.execute(
                sql.SQL("UPDATE {} SET value = %s WHERE cache_key = %s").format(table).as_string(None),
                [pickled, cache_key],
            )
        return int(value)
